package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// jobManifest runs kvet k8s-job and decodes its output strictly into the
// batch/v1 Job type: a field the API does not have, or of the wrong type,
// fails the decode.
func jobManifest(t *testing.T, args ...string) *batchv1.Job {
	t.Helper()
	code, out, errs := runCLI(t, append([]string{"k8s-job"}, args...)...)
	if code != 0 {
		t.Fatalf("kvet k8s-job %v = exit %d: %s", args, code, errs)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(out), &job); err != nil {
		t.Fatalf("the manifest does not decode as a batch/v1 Job: %v\n%s", err, out)
	}
	return &job
}

func TestK8sJobManifestIsABatchV1Job(t *testing.T) {
	job := jobManifest(t, "--image", "registry.example/kvet:1", "--shards", "4", "--run-id", "nightly-2026.12.04", "--seed", "42")
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job":
		t.Errorf("apiVersion/kind = %s/%s", job.APIVersion, job.Kind)
	case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion:
		t.Errorf("completionMode = %v, want Indexed", s.CompletionMode)
	case s.Completions == nil || *s.Completions != 4:
		t.Errorf("completions = %v, want 4", s.Completions)
	case s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1:
		t.Errorf("backoffLimitPerIndex = %v, want retries per shard", s.BackoffLimitPerIndex)
	case s.BackoffLimit != nil:
		t.Errorf("backoffLimit = %d: with backoffLimitPerIndex it would cap every shard's retries together", *s.BackoffLimit)
	case s.Template.Spec.RestartPolicy != "Never":
		t.Errorf("restartPolicy = %q: a podFailurePolicy needs Never", s.Template.Spec.RestartPolicy)
	}
	// Rules as the API server validates them, and the ones kvet needs.
	if s.PodFailurePolicy == nil {
		t.Fatal("no podFailurePolicy")
	}
	failsBadInput := false
	for _, r := range s.PodFailurePolicy.Rules {
		if (r.OnExitCodes == nil) == (r.OnPodConditions == nil) {
			t.Errorf("rule %+v: exactly one of onExitCodes and onPodConditions", r)
		}
		if e := r.OnExitCodes; e != nil {
			if e.ContainerName == nil || *e.ContainerName != s.Template.Spec.Containers[0].Name {
				t.Errorf("rule %+v: containerName is not the container's", r)
			}
			for _, c := range e.Values {
				if c == 0 {
					t.Errorf("rule %+v: exit code 0 is not allowed", r)
				}
				if c == exitBadInput && r.Action == batchv1.PodFailurePolicyActionFailIndex {
					failsBadInput = true
				}
				if c == exitInfra {
					t.Errorf("rule %+v: an infrastructure failure must be retried", r)
				}
			}
		}
	}
	if !failsBadInput {
		t.Errorf("podFailurePolicy %+v does not fail a shard at once on bad input (exit 2)", s.PodFailurePolicy)
	}
	for _, errs := range [][]string{validation.IsDNS1123Subdomain(job.Name), validation.IsDNS1123Label(s.Template.Spec.Containers[0].Name)} {
		if len(errs) > 0 {
			t.Errorf("names: %v", errs)
		}
	}
	env := map[string]string{}
	for _, e := range s.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["KVET_RUN_ID"] != "nightly-2026.12.04" || env["KVET_SEED"] != "42" || env["KVET_SHARDS"] != "4" || env["KVET_BOOTS"] != "3" {
		t.Errorf("env = %v, want the run id, seed and shards", env)
	}
	if cmd := strings.Join(s.Template.Spec.Containers[0].Command, " "); strings.Contains(cmd, "nightly") {
		t.Errorf("the command carries a flag's value in the shell text: %s", cmd)
	}
}

func TestK8sJobRefusesBadNames(t *testing.T) {
	for _, args := range [][]string{
		{"--name", "Bad_Name"},
		{"--name", strings.Repeat("a", 60)},
		{"--run-id", "a b;rm"},
		{"--run-id", "../up"},
		{"--results-claim", "Claim!"},
		{"--matrix-configmap", ""},
		{"--cpu", "four"},
		{"--memory", "8 GB"},
		{"--image", "r/kvet:1 --privileged"},
		{"--parallelism", "-1"},
	} {
		all := append([]string{"k8s-job", "--image", "r/kvet:1"}, args...)
		code, _, errs := runCLI(t, all...)
		if code != exitBadInput || !strings.Contains(errs, args[0]) {
			t.Errorf("kvet %v = exit %d %q, want exit %d naming %s", all, code, errs, exitBadInput, args[0])
		}
	}
}

// TestK8sJobShardScriptResumes runs the pod's script twice with a stand-in
// kvet: the first attempt starts the shard, a retry finds its directory and
// resumes it instead of failing with "already holds a run".
func TestK8sJobShardScriptResumes(t *testing.T) {
	job := jobManifest(t, "--image", "r/kvet:1", "--shards", "3", "--run-id", "r1", "--seed", "7")
	c := job.Spec.Template.Spec.Containers[0]
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	script := strings.ReplaceAll(c.Command[2], "/results/", results+"/")
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	calls := filepath.Join(dir, "calls")
	os.WriteFile(filepath.Join(bin, "kvet"), []byte("#!/bin/sh\necho \"$*\" >> "+calls+"\n"), 0o755)
	run := func() string {
		cmd := exec.Command(c.Command[0], c.Command[1], script)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "JOB_COMPLETION_INDEX=1"}
		for _, e := range c.Env {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("shard script: %v: %s", err, out)
		}
		b, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}
	shard := filepath.Join(results, "r1", "shard-2")
	if got, want := run(), "run /matrix/matrix.yaml --seed 7 --boots 3 --run-id r1 --shard 2/3 --out "+shard+" --events json --fail-on none"; got != want {
		t.Errorf("first attempt ran kvet %s\nwant kvet %s", got, want)
	}
	os.MkdirAll(shard, 0o755)
	os.WriteFile(filepath.Join(shard, "run.json"), []byte("{}"), 0o644)
	if got, want := run(), "run --resume "+shard+" --events json --fail-on none"; got != want {
		t.Errorf("retry ran kvet %s\nwant kvet %s", got, want)
	}
}
