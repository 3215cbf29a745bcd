package kernels

// modules resolves the named modules of k: its index's Closure.
func (k *Kernel) modules(names ...string) ([]Module, []string, error) {
	if k.ModulesDir == "" && len(names) == 0 {
		return nil, nil, nil
	}
	ix, err := k.ModuleIndex()
	if err != nil {
		return nil, nil, err
	}
	return ix.Closure(names...)
}
