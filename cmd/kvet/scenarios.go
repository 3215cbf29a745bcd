package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/kvet/kvet/scenarios"
)

func cmdScenarios(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scenarios", "[NAME...]", "list the scenarios with what each measures, which kernel change it would catch, and its parameters", stderr)
	brief := fs.Bool("brief", false, "one line per scenario, no parameters")
	markdown := fs.Bool("markdown", false, "Markdown, as in the README's scenario reference")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	specs := scenarios.All()
	if len(pos) > 0 {
		specs = nil
		for _, n := range pos {
			s, err := scenarios.Lookup(n)
			if err != nil {
				return badInput(err)
			}
			specs = append(specs, s)
		}
	}
	if *markdown {
		writeScenariosMarkdown(stdout, specs)
		return nil
	}
	for _, s := range specs {
		if *brief {
			fmt.Fprintf(stdout, "%-13s %s\n", s.Name, s.Measures)
			continue
		}
		fmt.Fprintf(stdout, "%s\n  measures: %s\n  catches:  %s\n", s.Name, s.Measures, s.Catches)
		if c := scenarios.CheckedAgainst(s.Name); c != "" {
			fmt.Fprintf(stdout, "  checked against: %s\n", c)
		}
		fmt.Fprintf(stdout, "  parameters (quick / full):\n")
		for _, p := range paramDocs(s) {
			fmt.Fprintf(stdout, "    %-20s %s / %s\n      %s\n", p.name, p.quick, p.full, p.doc)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

type paramDoc struct{ name, quick, full, doc string }

// paramDocs reads a scenario's parameters, defaults and docs from its
// parameter struct's tags.
func paramDocs(s scenarios.Spec) []paramDoc {
	q := reflect.ValueOf(s.Defaults(scenarios.Quick)).Elem()
	f := reflect.ValueOf(s.Defaults(scenarios.Full)).Elem()
	var out []paramDoc
	for i := 0; i < q.NumField(); i++ {
		sf := q.Type().Field(i)
		name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		out = append(out, paramDoc{name, show(q.Field(i)), show(f.Field(i)), sf.Tag.Get("doc")})
	}
	return out
}

func show(v reflect.Value) string {
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

func writeScenariosMarkdown(w io.Writer, specs []scenarios.Spec) {
	for _, s := range specs {
		fmt.Fprintf(w, "### %s\n\n%s.\n\n*Catches:* %s.\n\n", s.Name, strings.TrimSuffix(s.Measures, "."), strings.TrimSuffix(s.Catches, "."))
		if c := scenarios.CheckedAgainst(s.Name); c != "" {
			fmt.Fprintf(w, "*Checked against:* %s.\n\n", c)
		}
		if s.OnRequest {
			fmt.Fprintf(w, "Runs only when a matrix names it.\n\n")
		}
		fmt.Fprintf(w, "| parameter | quick | full | meaning |\n|---|---|---|---|\n")
		for _, p := range paramDocs(s) {
			fmt.Fprintf(w, "| `%s` | `%s` | `%s` | %s |\n", p.name, p.quick, p.full, strings.ReplaceAll(p.doc, "|", "\\|"))
		}
		fmt.Fprintln(w)
	}
}
