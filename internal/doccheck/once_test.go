package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A page shows each function once: a function it quotes whole (a "code"
// block naming it) does not come back in one of its diff blocks, where the
// reader would read it a second time. A diff block may show a function the
// page does not quote.
func TestEachFunctionOncePerPage(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		quoted := quotedNames(string(text))
		for _, name := range namesInDiffs(string(text)) {
			if quoted[name] {
				t.Errorf("%s quotes %s whole, and a diff block shows it again", filepath.Base(doc), name)
			}
		}
	}
}

var (
	// <!-- code: FILE NAME -->, NAME being Func, (*T).Method or T.Method.
	codeDirective = regexp.MustCompile(`(?m)^<!-- code: \S+ (\S+) -->$`)
	diffBlock     = regexp.MustCompile("(?s)<!-- output: diff [^\n]*-->\n```diff\n(.*?)```")
	// A line of a diff that declares a function or a method, kept or added.
	funcInDiff = regexp.MustCompile(`(?m)^[ +]func (?:\([^)]*\) )?(\w+)[\[(]`)
)

// quotedNames are the functions and methods that text quotes whole, by their
// bare names (drain for (*Server).drain).
func quotedNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, m := range codeDirective.FindAllStringSubmatch(text, -1) {
		if m[1] == "lines" { // code: FILE lines A-B quotes a range, not a declaration
			continue
		}
		names[m[1][strings.LastIndex(m[1], ".")+1:]] = true
	}
	return names
}

// namesInDiffs are the functions whose declarations text's diff blocks show.
func namesInDiffs(text string) []string {
	var names []string
	for _, block := range diffBlock.FindAllStringSubmatch(text, -1) {
		for _, m := range funcInDiff.FindAllStringSubmatch(block[1], -1) {
			names = append(names, m[1])
		}
	}
	return names
}
