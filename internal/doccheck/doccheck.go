// Package doccheck keeps the code and the outputs quoted in docs/*.md equal to
// what they quote. A fenced block is checked when an HTML comment, which
// GitHub does not show, stands on the line just before it:
//
//	<!-- code: chat/shutdown/server.go (*Server).Shutdown -->
//	<!-- code: chat/shutdown/server.go Shutdown -->
//	<!-- code: chat/shutdown/server.go lines 10-20 -->
//	<!-- output: diff broker notify server.go Shutdown -->
//	<!-- output: counterexample notify TestBugShutdownDoesNotWaitForWriters -->
//	<!-- output: sequence notify TestBugShutdownDoesNotWaitForWriters -->
//
// "code" quotes a declaration of a Go file (a func, a method, a type, a var or
// a const, with its doc comment) or a range of its lines. "output" quotes what
// a named function of Outputs prints. Paths are relative to the module root.
// The test in this package compares every block with its source, and
// rewrites the docs when run with -update.
package doccheck

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// directive matches the comment that anchors a block: kind, then arguments.
var directive = regexp.MustCompile(`^<!-- (code|output): (.+?) -->$`)

// A Block is one anchored fenced block of a markdown file.
type Block struct {
	Line      int    // the directive's line, 1-based
	Kind      string // "code" or "output"
	Args      []string
	Got       string // the block's content now, each line ending in "\n"
	from, to  int    // the content's lines, [from, to), 0-based
	Directive string
}

// Parse returns the anchored blocks of a markdown text. A directive must be
// followed at once by a fence (```), and the fence must be closed.
func Parse(text string) ([]Block, error) {
	lines := strings.SplitAfter(text, "\n")
	var blocks []Block
	for i := 0; i < len(lines); i++ {
		m := directive.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("line %d: %q is not followed by a ``` fence", i+1, m[0])
		}
		end := i + 2
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("line %d: the fence after %q is never closed", i+2, m[0])
		}
		blocks = append(blocks, Block{
			Line: i + 1, Kind: m[1], Args: strings.Fields(m[2]), Directive: m[0],
			Got: strings.Join(lines[i+2:end], ""), from: i + 2, to: end,
		})
		i = end
	}
	return blocks, nil
}

// Want returns what block b should contain, reading sources under root.
// With fresh, outputs that come from a random search search anew.
func Want(root string, b Block, fresh bool) (want string, ok bool, err error) {
	switch b.Kind {
	case "code":
		if len(b.Args) == 3 && b.Args[1] == "lines" {
			var first, last int
			if _, err := fmt.Sscanf(b.Args[2], "%d-%d", &first, &last); err != nil {
				return "", false, fmt.Errorf("bad line range %q", b.Args[2])
			}
			want, err = Lines(filepath.Join(root, b.Args[0]), first, last)
			return want, err == nil, err
		}
		if len(b.Args) != 2 {
			return "", false, fmt.Errorf("want: code: FILE NAME, or code: FILE lines A-B")
		}
		want, err = Decl(filepath.Join(root, b.Args[0]), b.Args[1])
		return want, err == nil, err
	case "output":
		out, found := Outputs[b.Args[0]]
		if !found {
			return "", false, fmt.Errorf("no output function %q in doccheck.Outputs", b.Args[0])
		}
		want, err = out(root, b.Args[1:], fresh)
		if errors.Is(err, ErrUnavailable) {
			return "", false, nil
		}
		return want, err == nil, err
	}
	return "", false, fmt.Errorf("unknown kind %q", b.Kind)
}

// Lines returns lines first to last (1-based, inclusive) of a file.
func Lines(path string, first, last int) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.SplitAfter(string(src), "\n")
	if first < 1 || last < first || last > len(lines) {
		return "", fmt.Errorf("%s has no lines %d-%d", path, first, last)
	}
	return strings.Join(lines[first-1:last], ""), nil
}

// Decl returns the declaration called name in a Go file, from its doc comment
// to the end of its last line (so a trailing comment comes too). name is a
// func, a type, a var, a const, or a method as (*T).M, (T).M, T.M or just M;
// a bare name that matches two declarations is an error.
func Decl(path, name string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return "", err
	}
	type span struct{ from, to token.Pos }
	var found []span
	add := func(doc *ast.CommentGroup, from, to token.Pos) {
		if doc != nil {
			from = doc.Pos()
		}
		found = append(found, span{from, to})
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if funcName(d) == name || d.Name.Name == name {
				add(d.Doc, d.Pos(), d.End())
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				doc, ok := declares(spec, name)
				switch {
				case ok && d.Lparen.IsValid(): // in a group: quote just this spec
					add(doc, spec.Pos(), spec.End())
				case ok:
					add(d.Doc, d.Pos(), d.End())
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s declares no %s", path, name)
	case 1:
	default:
		return "", fmt.Errorf("%s declares %s %d times: say (*T).%s", path, name, len(found), name)
	}
	// Widen the span to whole lines.
	from := fset.Position(found[0].from).Offset
	to := fset.Position(found[0].to).Offset
	from = strings.LastIndexByte(string(src[:from]), '\n') + 1
	if nl := strings.IndexByte(string(src[to:]), '\n'); nl >= 0 {
		to += nl + 1
	} else {
		to = len(src)
	}
	return string(src[from:to]), nil
}

// funcName is a func's name as an anchor spells it: F, or (*T).M and (T).M.
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok { // a generic receiver, T[E]
		t = g.X
	}
	id, _ := t.(*ast.Ident)
	if id == nil {
		return d.Name.Name
	}
	return "(" + star + id.Name + ")." + d.Name.Name
}

// declares reports whether a type or value spec declares name, and its doc.
func declares(spec ast.Spec, name string) (*ast.CommentGroup, bool) {
	switch s := spec.(type) {
	case *ast.TypeSpec:
		return s.Doc, s.Name.Name == name
	case *ast.ValueSpec:
		for _, n := range s.Names {
			if n.Name == name {
				return s.Doc, true
			}
		}
	}
	return nil, false
}

// Rewrite returns text with each block's content replaced by wants[i], for
// the blocks that Parse returned from text. A missing want leaves it alone.
func Rewrite(text string, blocks []Block, wants map[int]string) string {
	lines := strings.SplitAfter(text, "\n")
	var out []string
	next := 0
	for i, b := range blocks {
		want, ok := wants[i]
		if !ok {
			continue
		}
		out = append(out, lines[next:b.from]...)
		out = append(out, want)
		next = b.to
	}
	out = append(out, lines[next:]...)
	return strings.Join(out, "")
}
