package doccheck

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	update = flag.Bool("update", false, "rewrite the docs' blocks from their sources")
	fresh  = flag.Bool("outputs", false, "search anew for the counterexamples, instead of replaying the stored ones")
)

// TestDocs fails when a block of docs/*.md differs from what it quotes: the
// code, a diff, or a counterexample replayed from its stored draw.
// go test ./internal/doccheck -update rewrites them instead; add -outputs
// (make docs) to search for new counterexamples and store their draws.
func TestDocs(t *testing.T) {
	if *fresh && !*update {
		t.Fatal("-outputs replaces the stored draws: use it with -update (make docs)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs under %s: %v", root, err)
	}
	for _, doc := range docs {
		checkDoc(t, root, doc, *update, *fresh)
	}
}

// checkDoc checks, or with update rewrites, the blocks of one markdown file.
func checkDoc(t testing.TB, root, doc string, update, fresh bool) {
	t.Helper()
	src, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := filepath.Rel(root, doc)
	blocks, err := Parse(string(src))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	wants := make(map[int]string)
	for i, b := range blocks {
		want, ok, err := Want(root, b, fresh)
		switch {
		case err != nil:
			t.Errorf("%s:%d: %s: %v", name, b.Line, b.Directive, err)
		case ok && want != b.Got:
			wants[i] = want
			if !update {
				t.Errorf("%s:%d: %s: the block differs from its source (%s)\n%s",
					name, b.Line, b.Directive, fix(b), firstDiff(b.Got, want))
			}
		}
	}
	if update && len(wants) > 0 {
		if err := os.WriteFile(doc, []byte(Rewrite(string(src), blocks, wants)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: rewrote %d blocks", name, len(wants))
	}
}

// fix says how to bring block b up to date.
func fix(b Block) string {
	if b.Kind == "output" && b.Args[0] == "counterexample" {
		return "its stored draw no longer tells this story: make docs searches anew"
	}
	return "go test ./internal/doccheck -update"
}

// A doc whose excerpt no longer matches the code must fail the check, name
// the doc and the anchor, and be fixed by -update.
func TestAStaleDocFailsAndUpdateFixesIt(t *testing.T) {
	root := t.TempDir()
	write(t, root, "p/p.go", "package p\n\n// Hello greets.\nfunc Hello() string {\n\treturn \"hi\"\n}\n")
	stale := "# P\n\n<!-- code: p/p.go Hello -->\n```go\nfunc Hello() string { return \"hello\" }\n```\n"
	doc := write(t, root, "docs/p.md", stale)

	rec := &recorder{T: t}
	checkDoc(rec, root, doc, false, false)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "docs/p.md:3: <!-- code: p/p.go Hello -->") {
		t.Fatalf("a stale excerpt should give one error naming the doc and its anchor, got %q", rec.errors)
	}

	checkDoc(t, root, doc, true, false)
	got, _ := os.ReadFile(doc)
	want := "# P\n\n<!-- code: p/p.go Hello -->\n```go\n// Hello greets.\nfunc Hello() string {\n\treturn \"hi\"\n}\n```\n"
	if string(got) != want {
		t.Fatalf("after -update got %q, want %q", got, want)
	}
	checkDoc(t, root, doc, false, false) // and now it passes
}

func TestAnchors(t *testing.T) {
	root, _ := filepath.Abs("../..")
	for _, anchor := range []string{"(*Server).Shutdown", "Shutdown", "ErrServerClosed", "Server", "New"} {
		got, err := Decl(filepath.Join(root, "chat/shutdown/server.go"), anchor)
		if err != nil || !strings.Contains(got, anchor[strings.LastIndex(anchor, ".")+1:]) {
			t.Errorf("Decl(%q) = %q, %v", anchor, got, err)
		}
	}
	if _, err := Decl(filepath.Join(root, "chat/shutdown/server.go"), "NoSuchThing"); err == nil {
		t.Error("an anchor that names nothing should be an error")
	}
	if _, err := Parse("<!-- code: a.go X -->\ntext\n"); err == nil {
		t.Error("a directive without a fence should be an error")
	}
}

// firstDiff shows the first line at which the doc's block and its source differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; ; i++ {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			line := func(l []string) string {
				if i < len(l) {
					return fmt.Sprintf("%q", l[i])
				}
				return "(the end)"
			}
			return fmt.Sprintf("block line %d:\n  doc:    %s\n  source: %s", i+1, line(g), line(w))
		}
	}
}

func write(t *testing.T, root, name, text string) string {
	path := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// recorder is a *testing.T whose Errorf records instead of failing.
type recorder struct {
	*testing.T
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Every stored draw in docs/counterexamples is the draw of a counterexample
// that a doc shows: one that no doc names any more is left over.
func TestEveryStoredDrawIsShown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, doc := range docs {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := Parse(string(src))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for _, b := range blocks {
			if b.Kind == "output" && b.Args[0] == "counterexample" && len(b.Args) == 3 {
				shown[storedName(b.Args[1], b.Args[2])] = true
			}
		}
	}
	stored, err := filepath.Glob(filepath.Join(root, "docs", "counterexamples", "*.fail"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range stored {
		if !shown[filepath.Base(path)] {
			t.Errorf("%s: no doc shows this counterexample any more: delete it", path)
		}
	}
	if len(shown) != len(stored) {
		t.Errorf("%d counterexamples shown, %d draws stored: make docs stores the missing ones", len(shown), len(stored))
	}
}

// A replay counts only if rapid failed at once, on the stored file: after
// "ignoring fail file" rapid searches anew, and reports a seed instead.
func TestReplayedNeedsTheStoredFile(t *testing.T) {
	stored := "/r/docs/counterexamples/x-TestBug.fail"
	replay := `[rapid] failed after 0 tests: Delivery
To reproduce, specify -run="TestBug" -rapid.failfile="/r/docs/counterexamples/x-TestBug.fail"`
	search := `[rapid] ignoring fail file: version "v0.4.9" differs from rapid version "v1.3.0"
[rapid] failed after 0 tests: Delivery
To reproduce, specify -run="TestBug" -rapid.seed=42`
	if !replayed(replay, stored) {
		t.Errorf("a replay of the stored file was not taken for one:\n%s", replay)
	}
	if replayed(search, stored) {
		t.Errorf("a new search was taken for a replay:\n%s", search)
	}
}

// make docs keeps the last fail file a test names, the draw of the story it
// printed, and deletes the others and the directories they leave empty:
// rapid would replay a file left there on every later run.
func TestKeepFailFileKeepsTheLastAndCleansUp(t *testing.T) {
	pkg := t.TempDir()
	dir := filepath.Join(pkg, "testdata", "rapid", "TestBug")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.fail", "b.fail"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := `-rapid.failfile="testdata/rapid/TestBug/a.fail" ... -rapid.failfile="testdata/rapid/TestBug/b.fail"`
	stored := filepath.Join(t.TempDir(), "counterexamples", "x-TestBug.fail")
	if err := keepFailFile(pkg, out, stored); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(stored); err != nil || string(got) != "b.fail" {
		t.Errorf("stored %q, %v; want the last fail file, b.fail", got, err)
	}
	if _, err := os.Stat(filepath.Join(pkg, "testdata")); !os.IsNotExist(err) {
		t.Errorf("testdata is still there (%v): a fail file left in it would be replayed", err)
	}
}
