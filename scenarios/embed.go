package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// files holds the scenarios, in the order their numbers give: the order of
// the table's rows.
//
//go:embed *.scenario
var files embed.FS

// All returns every scenario of this directory, in the order of its files.
func All() ([]Scenario, error) {
	names, err := fs.Glob(files, "*.scenario")
	if err != nil {
		return nil, err
	}
	var all []Scenario
	for _, name := range names { // fs.Glob sorts them
		f, err := files.Open(name)
		if err != nil {
			return nil, err
		}
		sc, err := Parse(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, sc)
	}
	return all, nil
}

// Select returns the scenarios of all named in names, in all's order, or an
// error that names one that is not there.
func Select(all []Scenario, names []string) ([]Scenario, error) {
	byName := map[string]bool{}
	var have []string
	for _, sc := range all {
		byName[sc.Name] = true
		have = append(have, sc.Name)
	}
	wanted := map[string]bool{}
	for _, name := range names {
		if !byName[name] {
			return nil, fmt.Errorf("no scenario %q (have %s)", name, strings.Join(have, ", "))
		}
		wanted[name] = true
	}
	var selected []Scenario
	for _, sc := range all {
		if wanted[sc.Name] {
			selected = append(selected, sc)
		}
	}
	return selected, nil
}
