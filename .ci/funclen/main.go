// Command funclen lists the longest functions and files of the module's
// non-test Go code, for the refactoring reports of issue 8:
//
//	go run ./.ci/funclen [-n 15]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type entry struct {
	name  string
	lines int
}

func main() {
	n := flag.Int("n", 15, "how many of each to list")
	flag.Parse()
	var funcs, files []entry
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, entry{path, fset.Position(f.End()).Line})
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				t := fn.Recv.List[0].Type
				if s, ok := t.(*ast.StarExpr); ok {
					t = s.X
				}
				if g, ok := t.(*ast.IndexExpr); ok {
					t = g.X
				}
				if id, ok := t.(*ast.Ident); ok {
					name = id.Name + "." + name
				}
			}
			lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			funcs = append(funcs, entry{fmt.Sprintf("%s:%d %s", path, fset.Position(fn.Pos()).Line, name), lines})
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	show := func(title string, es []entry) {
		sort.SliceStable(es, func(i, j int) bool { return es[i].lines > es[j].lines })
		fmt.Println(title)
		for i := 0; i < *n && i < len(es); i++ {
			fmt.Printf("  %4d  %s\n", es[i].lines, es[i].name)
		}
	}
	show("longest functions (lines):", funcs)
	show("longest files (lines):", files)
}
