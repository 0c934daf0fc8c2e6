package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// method.md's table of mutants is the code's: every mutant that a chapter
// runs has its row, under its name in the code (so that
// `-run 'TestMutantsAreCaught/<name>'` finds it), with the chapters that run
// it and what catches it; and every row is a mutant the code has.
func TestMutantTableIsTheCode(t *testing.T) {
	root := filepath.Join("..", "..")
	short := propertyNames(t, filepath.Join(root, "model", "model.go"), filepath.Join(root, "chat", "chattest", "run.go"))
	want := map[mutantRow]bool{}
	for _, m := range chapterMutants(t, root, short) {
		want[m] = true
	}

	page, err := os.ReadFile(filepath.Join(root, "docs", "method.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, found := strings.Cut(string(page), "<!-- mutants: chat/*/mutants_test.go -->\n")
	if !found {
		t.Fatal("method.md has no table of mutants")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	got := map[mutantRow]bool{}
	for line := range strings.Lines(table) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "`") {
			continue // the header and its rule
		}
		row := mutantRow{
			name:     strings.Trim(strings.TrimSpace(cells[0]), "`"),
			where:    strings.TrimSpace(cells[2]),
			caughtBy: strings.TrimSpace(cells[3]),
		}
		if got[row] {
			t.Errorf("method.md: the row of %q is there twice", row.name)
		}
		got[row] = true
	}
	for row := range want {
		if !got[row] {
			t.Errorf("method.md has no row | `%s` | ... | %s | %s |", row.name, row.where, row.caughtBy)
		}
	}
	for row := range got {
		if !want[row] {
			t.Errorf("method.md's row of `%s` (%s; %s) is no mutant of the code", row.name, row.where, row.caughtBy)
		}
	}
}

// A mutantRow is what the table says of a mutant: its name, the chapters
// that run it ("disconnect, limits"), and what catches it: its Want
// property, then "(or ...)" its Also ones, or, for a mutant that a test
// catches, that test's name in backquotes.
type mutantRow struct{ name, where, caughtBy string }

// chapterMutants reads the mutants that chapters disconnect to limits run
// (chattest.ChapterMutants and LeavingMutants, and each chapter's own), one
// row each, with every chapter that runs it.
func chapterMutants(t *testing.T, root string, short map[string]string) []mutantRow {
	t.Helper()
	type mutant struct{ name, caughtBy string }
	where := map[mutant][]string{}
	shared := mutantLists(t, filepath.Join(root, "chat", "chattest", "chaptermutants.go"), short)
	for _, chapter := range []string{"disconnect", "replies", "slow", "limits"} {
		own := mutantLists(t, filepath.Join(root, "chat", chapter, "mutants_test.go"), short)
		for _, m := range append(own["mutants"], own["TestTestMutantsAreCaught"]...) {
			if m.uses != "" {
				for _, s := range shared[m.uses] {
					where[mutant{s.name, s.caughtBy}] = append(where[mutant{s.name, s.caughtBy}], chapter)
				}
				continue
			}
			where[mutant{m.name, m.caughtBy}] = append(where[mutant{m.name, m.caughtBy}], chapter)
		}
	}
	var rows []mutantRow
	for m, chapters := range where {
		rows = append(rows, mutantRow{m.name, strings.Join(chapters, ", "), m.caughtBy})
	}
	if len(rows) < 20 {
		t.Fatalf("only %d mutants read from the code: the reading is broken", len(rows))
	}
	return rows
}

// A listed mutant is a mutant literal of a list, or a list the list takes
// in (uses: chattest's ChapterMutants or LeavingMutants).
type listed struct{ name, caughtBy, uses string }

// mutantLists reads the mutant lists of a Go file: each var, and each
// func, by name, with the mutant literals in it, and the chattest lists it
// names, in order.
func mutantLists(t *testing.T, path string, short map[string]string) map[string][]listed {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string][]listed{}
	for _, decl := range file.Decls {
		var name string
		var body ast.Node
		switch d := decl.(type) {
		case *ast.GenDecl:
			if d.Tok != token.VAR || len(d.Specs) != 1 {
				continue
			}
			spec := d.Specs[0].(*ast.ValueSpec)
			name, body = spec.Names[0].Name, spec
		case *ast.FuncDecl:
			name, body = d.Name.Name, d.Body
		}
		if body == nil {
			continue
		}
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if m, ok := mutantLiteral(n, short); ok {
					lists[name] = append(lists[name], m)
					return false
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "chattest" && strings.HasSuffix(n.Sel.Name, "Mutants") &&
					!strings.HasPrefix(n.Sel.Name, "Check") {
					lists[name] = append(lists[name], listed{uses: n.Sel.Name})
				}
			}
			return true
		})
	}
	return lists
}

// mutantLiteral reads a chattest.Mutant or TestMutant literal: its Name,
// and its Want and Also, or its Test.
func mutantLiteral(lit *ast.CompositeLit, short map[string]string) (listed, bool) {
	var m listed
	var want string
	var also []string
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			return m, false
		}
		switch kv.Key.(*ast.Ident).Name {
		case "Name":
			m.name = stringLit(kv.Value)
		case "Test":
			m.caughtBy = "`" + stringLit(kv.Value) + "`"
		case "Want":
			want = short[kv.Value.(*ast.SelectorExpr).Sel.Name]
		case "Also":
			for _, p := range kv.Value.(*ast.CompositeLit).Elts {
				also = append(also, short[p.(*ast.SelectorExpr).Sel.Name])
			}
		}
	}
	if want != "" {
		m.caughtBy = want
		if len(also) > 0 {
			m.caughtBy += " (or " + strings.Join(also, ", ") + ")"
		}
	}
	return m, m.name != "" && m.caughtBy != ""
}

func stringLit(e ast.Expr) string {
	s, err := strconv.Unquote(e.(*ast.BasicLit).Value)
	if err != nil {
		panic(err)
	}
	return s
}

// propertyNames maps each Property constant of the files (model's, and
// the harness's own, such as chattest.Termination) to the name its text
// begins with: Spurious to "Nothing spurious".
func propertyNames(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	names := map[string]string{}
	for _, path := range paths {
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok || spec.Type == nil || len(spec.Values) != 1 {
				return true
			}
			typ, isIdent := spec.Type.(*ast.Ident)
			sel, isSel := spec.Type.(*ast.SelectorExpr)
			if isIdent && typ.Name == "Property" || isSel && sel.Sel.Name == "Property" {
				name, _, _ := strings.Cut(stringLit(spec.Values[0]), ":")
				names[spec.Names[0].Name] = name
			}
			return true
		})
	}
	for _, want := range []string{"Delivery", "Termination"} {
		if !slices.Contains(mapsValues(names), want) {
			t.Fatalf("no Property constant %q read from %v", want, paths)
		}
	}
	return names
}

func mapsValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
