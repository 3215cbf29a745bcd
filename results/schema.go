// Package results owns what a run produces: the versioned result schema, the
// run directory, histogram encoding, statistics, comparisons, verdicts and
// report renderers. It never imports runner.
package results

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of run.json and of every boot file. It changes
// whenever a field changes meaning or is removed.
const SchemaVersion = 1

// Outcome classifies how a boot ended. Only OK boots carry measurements;
// KernelPanic, Hang and AgentError are facts about the kernel under test,
// InfraError is a fault of the machinery and never a verdict about a kernel.
type Outcome string

const (
	OK          Outcome = "ok"
	KernelPanic Outcome = "kernel-panic"
	Hang        Outcome = "hang"
	AgentError  Outcome = "agent-error"
	InfraError  Outcome = "infra-error"
)

// KernelFault reports whether the outcome is the kernel's (or its guest's)
// fault rather than the host's.
func (o Outcome) KernelFault() bool {
	return o == KernelPanic || o == Hang || o == AgentError
}

// Direction says which way a metric gets better.
type Direction string

const (
	LowerIsBetter  Direction = "lower"
	HigherIsBetter Direction = "higher"
	// Info metrics are recorded and shown but never judged.
	Info Direction = "info"
)

// Metric is one per-boot summary value of a scenario.
type Metric struct {
	// Name is stable across releases, e.g. "fifo-1ms.p99" (the scenario name
	// is not repeated; the full key is "scenario/name").
	Name   string    `json:"name"`
	Unit   string    `json:"unit"` // "ns", "ms", "ops/s", "count", "ratio", "bytes", "segments"
	Better Direction `json:"better"`
	Value  float64   `json:"value"`
	// Samples is how many observations stand behind Value (0: not a sample
	// statistic). With Quantile it decides whether a tail is underpowered.
	Samples int64 `json:"samples,omitempty"`
	// Quantile is the percentile (99.9, not 0.999) that Value is, or 0.
	Quantile float64 `json:"quantile,omitempty"`
	// Timing is true when Value depends on wall-clock time: such values are
	// never compared across accelerators or hosts.
	Timing bool `json:"timing,omitempty"`
	// Threshold overrides the default relative threshold (0.05 = 5%) for
	// judging this metric; 0 means the default for its kind.
	Threshold float64 `json:"threshold,omitempty"`
	// Primary marks the few metrics that answer the scenario's question:
	// they are tested as a small family of their own, so a change in them is
	// found with fewer boots; the rest are secondary. A scenario that marks
	// none has its medians, means and rates as primary.
	Primary bool `json:"primary,omitempty"`
	// Fraction marks a share of 0..1 (missed deadlines, stalled exchanges,
	// CPU share): judged on that scale, by its rarer side, not relative to
	// its own value. With Samples it is a count of Value*Samples events.
	Fraction bool `json:"fraction,omitempty"`
}

// Histogram is a latency distribution in the standard HdrHistogram
// V2-compressed base64 form ("HISTF...").
type Histogram struct {
	Name      string `json:"name"`
	Unit      string `json:"unit"`
	Corrected bool   `json:"corrected,omitempty"` // coordinated-omission corrected
	Encoded   string `json:"encoded"`
}

// Scenario is what one scenario produced in one boot.
type Scenario struct {
	Name   string          `json:"name"`
	Params json.RawMessage `json:"params,omitempty"`
	// Valid is false when the scenario could not hold its own conditions (a GC
	// cycle in the window, SCHED_FIFO refused, ...); Invalid says why and no
	// metric is judged.
	Valid      bool          `json:"valid"`
	Invalid    string        `json:"invalid,omitempty"`
	Metrics    []Metric      `json:"metrics,omitempty"`
	Histograms []Histogram   `json:"histograms,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	// Notes are facts for the reader that are not metrics, e.g. a variant
	// skipped because the kernel lacks a feature (not a failure).
	Notes []string `json:"notes,omitempty"`
	// Error is set when the scenario crashed or failed; the boot is then an
	// agent error.
	Error string `json:"error,omitempty"`
}

// FaultTry is a try of a boot that ended in a kernel fault and was run
// again to see whether the fault reproduces.
type FaultTry struct {
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	// Decisive are the console lines that say what happened (the panic,
	// Oops or BUG line, RIP, the first frames of the call trace).
	Decisive    []string `json:"decisive,omitempty"`
	ConsoleFile string   `json:"console_file,omitempty"` // relative to the run directory
	// Artefact names a known emulator artefact the console matches, if any.
	Artefact string `json:"artefact,omitempty"`
}

// Boot is one boot of one kernel: the unit of replication.
type Boot struct {
	Schema int `json:"schema"`
	// Kernel is the matrix name of the kernel; Index the boot's number among
	// that kernel's boots (0-based); Seq its position in the run's plan.
	Kernel string `json:"kernel"`
	Index  int    `json:"index"`
	Seq    int    `json:"seq"`
	// Attempt counts infrastructure retries (1 = first try).
	Attempt int `json:"attempt,omitempty"`

	Release string `json:"release,omitempty"` // uname -r as the guest reported it
	Accel   string `json:"accel"`             // "kvm" or "tcg"
	// KernelSHA256 and InitrdSHA256 are the hashes of the files QEMU was
	// given, taken as it started: what actually booted.
	KernelSHA256 string `json:"kernel_sha256,omitempty"`
	InitrdSHA256 string `json:"initrd_sha256,omitempty"`

	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"` // why the outcome, one line
	// ConsoleTail is the end of the console for any outcome but OK.
	ConsoleTail string `json:"console_tail,omitempty"`
	ConsoleFile string `json:"console_file,omitempty"` // relative to the run directory
	// Unconfirmed are earlier tries of this boot that panicked or hung and
	// were run again on the same kernel to confirm the fault: when this
	// boot is OK the fault did not reproduce (a one-off), otherwise it did.
	Unconfirmed []FaultTry `json:"unconfirmed,omitempty"`

	Started time.Time     `json:"started"`
	Wall    time.Duration `json:"wall_ns"` // QEMU start to QEMU exit
	// FirstFrame is the time from QEMU start to the agent's Hello.
	FirstFrame time.Duration `json:"first_frame_ns,omitempty"`
	// HostOverhead is host-side time that is not the guest's: image
	// preparation, QEMU start, QMP, result writing.
	HostOverhead time.Duration `json:"host_overhead_ns,omitempty"`
	// PinnedCPUs are the host CPUs the guest's vCPUs were pinned to (vCPU i
	// on PinnedCPUs[i]); empty when the guest was not pinned.
	PinnedCPUs []int `json:"pinned_cpus,omitempty"`
	// EmulatorCPUs are where QEMU's other threads ran when pinned.
	EmulatorCPUs []int `json:"emulator_cpus,omitempty"`
	// QEMUNice is the nice value QEMU's threads were given (the matrix's
	// qemu_nice), read back from /proc; 0 when left as it was.
	QEMUNice int `json:"qemu_nice,omitempty"`

	Facts     map[string]string `json:"facts,omitempty"`
	Scenarios []Scenario        `json:"scenarios,omitempty"`
	Log       []string          `json:"log,omitempty"` // agent log lines

	// Traced boots ran their scenarios under the kernel's event tracer
	// (kvet run --trace): they are kept apart (TracedBootFile) and never
	// measure, compare or decide anything. Traces are what they recorded.
	Traced bool        `json:"traced,omitempty"`
	Traces []TraceFile `json:"traces,omitempty"`
}

// TraceFile is one scenario's kernel trace, taken in a traced boot.
type TraceFile struct {
	Scenario string `json:"scenario"`
	// File is the trace in ftrace's text format, gzip-compressed, relative
	// to the run directory; empty when no trace was taken (Error says why).
	File string `json:"file,omitempty"`
	// Bytes and Events are the size of the text and its event lines.
	Bytes  int64 `json:"bytes"`
	Events int64 `json:"events"`
	// Enabled are the events traced, Missing those the kernel lacks.
	Enabled []string `json:"enabled,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// Truncated: the text was cut at the guest's cap.
	Truncated bool   `json:"truncated,omitempty"`
	BufferKB  int    `json:"buffer_kb,omitempty"` // ring buffer per CPU
	Error     string `json:"error,omitempty"`
}

// Key is the identity of a boot inside a run.
func (b *Boot) Key() string { return BootKey(b.Kernel, b.Index) }

// Kernel describes a kernel of the matrix as it was resolved.
type Kernel struct {
	Name    string            `json:"name"`
	Source  string            `json:"source"`            // how the user named it (package, deb path, URL...)
	Package string            `json:"package,omitempty"` // concrete package name
	Version string            `json:"version,omitempty"` // concrete package version
	Release string            `json:"release"`           // kernel release (uname -r)
	SHA256  string            `json:"sha256"`            // of the kernel image
	Cmdline string            `json:"cmdline,omitempty"` // extra kernel parameters
	Sysctl  map[string]string `json:"sysctl,omitempty"`
	Config  map[string]string `json:"config,omitempty"` // selected CONFIG_ options
}

// Host describes where a run ran; timings from different hosts or accels are
// not comparable.
type Host struct {
	Hostname    string `json:"hostname"`
	CPUModel    string `json:"cpu_model"`
	CPUs        int    `json:"cpus"`
	Kernel      string `json:"kernel"`
	QEMUVersion string `json:"qemu_version"`
	KvetVersion string `json:"kvet_version"`
	GoVersion   string `json:"go_version"`
}

// Run is run.json: what a run is, written once when it starts.
type Run struct {
	Schema   int       `json:"schema"`
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Host     Host      `json:"host"`
	Accel    string    `json:"accel"` // accelerator chosen for the run
	Baseline string    `json:"baseline"`
	Kernels  []Kernel  `json:"kernels"`
	Boots    int       `json:"boots"` // per kernel; an adaptive run's first round
	// Adaptive is set for boots: auto; its looks are in looks.json.
	Adaptive *Adaptive   `json:"adaptive,omitempty"`
	Profile  string      `json:"profile"`
	Seed     int64       `json:"seed"`
	Plan     []PlanEntry `json:"plan"`
	Matrix   string      `json:"matrix,omitempty"` // the matrix as YAML, with flags applied
	Shard    string      `json:"shard,omitempty"`  // "I/N" when sharded
	// Parallel is how many guests ran at once (when the run was created; a
	// resume may differ, each boot records its own pinning), Isolate whether
	// --isolate asked for one at a time, Pinned whether guests' vCPUs were
	// pinned to disjoint host CPUs.
	Parallel int  `json:"parallel,omitempty"`
	Isolate  bool `json:"isolate,omitempty"`
	Pinned   bool `json:"pinned,omitempty"`
}

// PlanEntry is one boot of the plan, in order.
type PlanEntry struct {
	Seq    int    `json:"seq"`
	Kernel string `json:"kernel"`
	Index  int    `json:"index"`
	// Trace marks a traced boot (see Boot.Traced): its Index counts the
	// kernel's traced boots, apart from its measurement boots.
	Trace bool `json:"trace,omitempty"`
}
