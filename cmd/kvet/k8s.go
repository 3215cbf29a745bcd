package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/kvet/kvet/internal/matrix"
)

func cmdK8sJob(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("k8s-job", "[flags]", "write a Kubernetes Indexed Job manifest: each completion index runs one shard of the matrix (kvet run --shard I/N), with /dev/kvm from the node and results on a volume; merge them afterwards with kvet merge", stderr)
	name := fs.String("name", "kvet", "the Job's name")
	image := fs.String("image", "", "container image with kvet and qemu-system-x86 (required)")
	shards := fs.Int("shards", 3, "number of shards (completions)")
	parallel := fs.Int("parallelism", 0, "shards running at once (default: all)")
	configMap := fs.String("matrix-configmap", "kvet-matrix", "ConfigMap holding matrix.yaml")
	claim := fs.String("results-claim", "kvet-results", "PersistentVolumeClaim for the run directories")
	runID := fs.String("run-id", "run-1", "run directory name under the results volume; shards write RUNID/shard-I")
	seed := fs.Int64("seed", 1, "plan seed: every shard must use the same one")
	boots := fs.Int("boots", 3, "boots per kernel: the shards of a run share a fixed plan (boots: auto does not shard)")
	cpus := fs.String("cpu", "4", "CPU request and limit per shard")
	mem := fs.String("memory", "8Gi", "memory request and limit per shard")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" {
		fs.Usage()
		return badInputf("k8s-job: --image is required")
	}
	if *shards < 1 {
		return badInputf("k8s-job: --shards must be at least 1")
	}
	if *boots < 1 || *boots > matrix.MaxBoots {
		return badInputf("k8s-job: --boots %d is out of range 1..%d", *boots, matrix.MaxBoots)
	}
	if *parallel < 0 {
		return badInputf("k8s-job: --parallelism %d is negative", *parallel)
	}
	if *parallel == 0 {
		*parallel = *shards
	}
	if err := checkJobNames(*name, *image, *configMap, *claim, *runID, *cpus, *mem); err != nil {
		return badInput(fmt.Errorf("k8s-job: %w", err))
	}
	job := buildJob(jobSpec{name: *name, image: *image, shards: *shards, parallel: *parallel, configMap: *configMap, claim: *claim, runID: *runID, seed: *seed, boots: *boots, cpus: *cpus, mem: *mem})
	fmt.Fprintf(stdout, "# kvet: %d shards of one matrix run. After the Job completes:\n#   kvet merge -out merged /results/%s/shard-*\n", *shards, *runID)
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(job); err != nil {
		return err
	}
	return enc.Close()
}

// jobSpec is what the manifest is made of, checked.
type jobSpec struct {
	name, image, configMap, claim, runID, cpus, mem string
	shards, parallel, boots                         int
	seed                                            int64
}

// buildJob is the Indexed Job that runs one shard per completion index.
func buildJob(j jobSpec) map[string]any {
	// Values reach the script as environment variables, never as its text:
	// nothing the user types is parsed by the shell.
	env := []any{
		map[string]any{"name": "XDG_CACHE_HOME", "value": "/cache"},
		map[string]any{"name": "KVET_RUN_ID", "value": j.runID},
		map[string]any{"name": "KVET_SEED", "value": strconv.FormatInt(j.seed, 10)},
		map[string]any{"name": "KVET_SHARDS", "value": strconv.Itoa(j.shards)},
		map[string]any{"name": "KVET_BOOTS", "value": strconv.Itoa(j.boots)},
	}
	res := map[string]any{"cpu": j.cpus, "memory": j.mem, "devices.kubevirt.io/kvm": "1"}
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": j.name, "labels": map[string]any{"app": "kvet"}},
		"spec": map[string]any{
			"completionMode": "Indexed",
			"completions":    j.shards,
			"parallelism":    j.parallel,
			// Each shard is retried on its own, resuming its directory;
			// bad input (exit 2) fails the shard at once, and a node
			// drained under it costs no retry.
			"backoffLimitPerIndex": 2,
			"podFailurePolicy":     podFailurePolicy(),
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "kvet"}},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers": []any{map[string]any{
						"name":    "kvet",
						"image":   j.image,
						"command": []string{"/bin/sh", "-c", shardScript},
						// /dev/kvm comes from the node through a device plugin
						// (KubeVirt's exposes devices.kubevirt.io/kvm); without
						// one, run privileged with a hostPath /dev/kvm instead.
						"resources":    map[string]any{"requests": res, "limits": res},
						"env":          env,
						"volumeMounts": []any{map[string]any{"name": "matrix", "mountPath": "/matrix"}, map[string]any{"name": "results", "mountPath": "/results"}, map[string]any{"name": "cache", "mountPath": "/cache"}},
					}},
					"volumes": []any{
						map[string]any{"name": "matrix", "configMap": map[string]any{"name": j.configMap}},
						map[string]any{"name": "results", "persistentVolumeClaim": map[string]any{"claimName": j.claim}},
						map[string]any{"name": "cache", "emptyDir": map[string]any{}},
					},
				},
			},
		},
	}
}
