package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Every Reason constant is in Reasons, so Stats counts it under its own
// name (a reason missing from the table would count as unknown).
func TestEveryReasonIsCounted(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if ok {
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Reason" {
				for _, name := range vs.Names {
					consts = append(consts, name.Name)
				}
			}
		}
		return true
	})
	if len(consts) != len(bridge.Reasons) {
		t.Fatalf("event.go declares %d Reason constants %v; Reasons lists %d", len(consts), consts, len(bridge.Reasons))
	}
	var s Stats
	for i, r := range bridge.Reasons {
		if r.Index() != i || slices.Index(bridge.Reasons[:], r) != i {
			t.Fatalf("reason %q is not counted at its own place", r)
		}
		s.Rejected[r.Index()].Add(uint64(i + 1))
	}
	for i, r := range bridge.Reasons {
		if got := s.RejectedBy(r); got != uint64(i+1) {
			t.Errorf("RejectedBy(%s) = %d, want %d", r, got, i+1)
		}
	}
	if s.RejectedTotal() != 10 {
		t.Errorf("RejectedTotal = %d, want 10", s.RejectedTotal())
	}
}
