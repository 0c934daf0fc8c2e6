package disconnect

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"achat/model"
)

// A property that no broken server fails is not a test. Each mutant below
// breaks this chapter in one small way, as a reader might when they write it
// themselves, and the property run must catch it. The mutant is built with
// go test -overlay, which swaps a file's contents for the build without
// touching the tree, and its TestProperties/settled must fail with the right
// property and a shrunk schedule.
var mutants = []struct {
	name  string
	edits []edit
	want  model.Property
}{
	{
		// Two ways out of the map, and the broker trusts the name: a refused
		// "alice" says it left, and the real alice is removed.
		name: "a peer removed by name",
		edits: []edit{
			{"broker.go", "if !ok || p.id != ev.id {", "if !ok {"},
			{"conn.go", "\t\ts.refuse(conn, err)\n\t\treturn\n",
				"\t\ts.refuse(conn, err)\n\t\tif name != \"\" {\n\t\t\ts.events <- leaveEvent{id: id, name: name}\n\t\t}\n\t\treturn\n"},
		},
		want: model.Delivery,
	},
	{
		// The reader closes the connection when its client leaves: what was
		// queued for the client is never written.
		name: "the connection closed when the reader ends",
		edits: []edit{
			{"conn.go", "\ts.events <- leaveEvent{id: id, name: name}\n}",
				"\ts.closeConn(conn)\n\ts.events <- leaveEvent{id: id, name: name}\n}"},
		},
		want: model.Delivery,
	},
	{
		// The broker forgets to remove the peer: the name is never freed.
		name: "a name never freed",
		edits: []edit{{"broker.go",
			"\tdelete(peers, ev.name)\n\tp.queue.Close() // the broker's last push to this queue: the writer may finish\n",
			""}},
		want: model.Login,
	},
	{
		// The reader does not wait for the broker's verdict on its name, and
		// the broker closes a refused connection, as in chapter shutdown.
		name: "a login not waited for",
		edits: []edit{
			{"conn.go", "\treturn <-verdict\n", "\treturn nil\n"},
			{"broker.go", "\t\t\tev.verdict <- s.login(peers, ev) // buffered: never blocks the broker\n",
				"\t\t\tif s.login(peers, ev) != nil {\n\t\t\t\ts.closeConn(ev.conn)\n\t\t\t}\n"},
		},
		want: model.Impostor,
	},
}

// edit replaces old, which must occur once in file, with new.
type edit struct{ file, old, new string }

func TestMutantsAreCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs each mutant: -short skips it")
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			out, err := runMutant(t, m.edits)
			if err == nil {
				t.Fatalf("the mutant passed every property:\n%s", out)
			}
			if !strings.Contains(out, "[rapid] failed") || !strings.Contains(out, string(m.want)) {
				t.Fatalf("the mutant failed, but not with %q:\n%s", m.want, out)
			}
			t.Logf("caught:\n%s", out)
		})
	}
}

// runMutant runs this package's property test with edits applied, through
// an overlay, and returns its output.
func runMutant(t *testing.T, edits []edit) (string, error) {
	dir := t.TempDir()
	replace := map[string]string{}
	for _, e := range edits {
		path, err := filepath.Abs(e.file)
		if err != nil {
			t.Fatal(err)
		}
		src, ok := replace[path]
		if !ok {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src = string(b)
		}
		if strings.Count(src, e.old) != 1 {
			t.Fatalf("%s: the text to mutate is not there once; update the mutant:\n%s", e.file, e.old)
		}
		replace[path] = strings.Replace(src, e.old, e.new, 1)
	}
	overlay := map[string]map[string]string{"Replace": {}}
	for path, src := range replace {
		mutated := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(mutated, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay["Replace"][path] = mutated
	}
	b, err := json.Marshal(overlay)
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-overlay", overlayFile, "-count=1",
		"-run", "^TestProperties$/^settled$", "-rapid.nofailfile", ".")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
