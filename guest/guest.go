// Package guest is kvet running inside the guest: as PID 1 it mounts what it
// needs, loads modules, opens the results port, receives the plan, runs each
// scenario in a child process, sends framed results and powers off. It
// measures nothing itself.
package guest

// Main runs the agent as PID 1. It never returns.
func Main() { panic("guest: agent not implemented yet") }

// ScenarioMain runs one scenario in a child process of the agent
// (`/init scenario NAME`): params (JSON) on stdin, a results.Scenario (JSON)
// on stdout. It returns the process exit code.
func ScenarioMain(name string) int { panic("guest: scenario child not implemented yet") }
