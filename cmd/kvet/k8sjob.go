package main

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// shardScript runs one shard of the Job: a fresh run the first time, and on
// a retry (the pod died, the node went away) a resume of the directory the
// earlier attempt left. Its values come from the environment.
const shardScript = `set -e
i=$((JOB_COMPLETION_INDEX + 1))
out="/results/$KVET_RUN_ID/shard-$i"
if [ -f "$out/run.json" ]; then
  exec kvet run --resume "$out" --events json --fail-on none
fi
exec kvet run /matrix/matrix.yaml --seed "$KVET_SEED" --boots "$KVET_BOOTS" --run-id "$KVET_RUN_ID" --shard "$i/$KVET_SHARDS" --out "$out" --events json --fail-on none`

// podFailurePolicy fails a shard without retries when kvet says its input is
// bad (exit 2, or 1 should a verdict fail it): retrying cannot help. Exit 3
// (infrastructure) is retried, and a disruption (a drained node) does not
// count against the shard's retries.
func podFailurePolicy() map[string]any {
	return map[string]any{"rules": []any{
		map[string]any{"action": "FailIndex", "onExitCodes": map[string]any{"containerName": "kvet", "operator": "In", "values": []int{1, exitBadInput}}},
		map[string]any{"action": "Ignore", "onPodConditions": []any{map[string]any{"type": "DisruptionTarget"}}},
	}}
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// checkJobNames validates the flags that become Kubernetes names and
// values, as the API server would, so that a bad one fails here with the
// flag's name rather than at kubectl apply.
func checkJobNames(name, image, configMap, claim, runID, cpu, mem string) error {
	// An Indexed Job's pods are named NAME-INDEX-RANDOM: keep room for it.
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 || len(name) > 50 {
		if len(errs) == 0 {
			errs = []string{"at most 50 characters (room for the pods' index and suffix)"}
		}
		return fmt.Errorf("--name %q: %s", name, strings.Join(errs, "; "))
	}
	for _, f := range []struct{ flag, v string }{{"--matrix-configmap", configMap}, {"--results-claim", claim}} {
		if errs := validation.IsDNS1123Subdomain(f.v); len(errs) > 0 {
			return fmt.Errorf("%s %q: %s", f.flag, f.v, strings.Join(errs, "; "))
		}
	}
	if strings.TrimSpace(image) != image || strings.ContainsAny(image, " \t\n") {
		return fmt.Errorf("--image %q: no spaces", image)
	}
	if !runIDPattern.MatchString(runID) || len(runID) > 200 {
		return fmt.Errorf("--run-id %q: use letters, digits and . _ - (it names a directory)", runID)
	}
	for _, f := range []struct{ flag, v string }{{"--cpu", cpu}, {"--memory", mem}} {
		if _, err := resource.ParseQuantity(f.v); err != nil {
			return fmt.Errorf("%s %q: %v", f.flag, f.v, err)
		}
	}
	return nil
}
