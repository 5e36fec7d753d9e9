package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// A text is accepted exactly when encoding/json finds it valid and it is
// UTF-8 (which encoding/json does not require); a rejection is ErrSyntax
// or a member of the wrong type.
func FuzzValidity(f *testing.F) {
	for _, seed := range []string{`{}`, `[1,2,{"a":null}]`, `"\u00e9\ud83d\ude00"`, `{"a":`, `-0.5e+3`, `01`, "\"\xff\"", `[[[[]]]]`, `tru`, ` {"a" : [ true , false ] } `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := New(data)
		err := sc.Skip()
		if err == nil {
			err = sc.End()
		}
		want := json.Valid(data) && utf8.Valid(data)
		if (err == nil) != want {
			t.Fatalf("%q: scanner err %v, encoding/json and UTF-8 valid %v", data, err, want)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Fatalf("%q: error %v is not ErrSyntax", data, err)
		}
	})
}

// Fields read as their kinds, null leaves them as they were, and strings
// with escapes are unescaped into the scanner's buffer.
func TestFields(t *testing.T) {
	sc := New([]byte(`{"s":"a\nb","n":null,"b":true,"r":[1, 2],"o":{"x":"y"},"i":42}`))
	var s, n, x string
	var b bool
	var r json.RawMessage
	var i int64
	n = "kept"
	err := sc.ObjectField("root", func(key []byte) error {
		switch string(key) {
		case "s":
			return sc.StringField("s", &s)
		case "n":
			return sc.StringField("n", &n)
		case "b":
			return sc.BoolField("b", &b)
		case "r":
			return sc.RawField(&r)
		case "o":
			return sc.ObjectField("o", func([]byte) error { return sc.StringField("x", &x) })
		case "i":
			v, err := sc.Int64()
			i = v
			return err
		}
		return sc.Skip()
	})
	if err != nil || s != "a\nb" || n != "kept" || !b || string(r) != "[1, 2]" || x != "y" || i != 42 {
		t.Fatalf("err %v s %q n %q b %v r %s x %q i %d", err, s, n, b, r, x, i)
	}
	bad := New([]byte(`{"s" 1}`))
	if err := bad.ObjectField("root", func([]byte) error { return bad.Skip() }); !errors.Is(err, ErrSyntax) {
		t.Errorf("a member without its colon: %v, want ErrSyntax", err)
	}
}

// A value as returns a string it holds for is that string (no
// allocation); another is read as it is, an escaped one unescaped; null
// leaves the field; a number is an error naming the field.
func TestStringFieldAs(t *testing.T) {
	as := func(b []byte) string {
		if string(b) == "connected" {
			return "connected"
		}
		return string(b)
	}
	for _, tt := range []struct {
		in, want string
		allocs   float64
		err      bool
	}{
		{`"connected"`, "connected", 0, false},
		{`"alerting"`, "alerting", 1, false},
		{`"conn\u0065cted"`, "connected", -1, false}, // (a new scanner grows its buffer for escapes)
		{`null`, "kept", 0, false},
		{`1`, "kept", -1, true}, // (an error allocates its message)
	} {
		data := []byte(tt.in)
		got := "kept"
		var err error
		allocs := testing.AllocsPerRun(10, func() {
			got = "kept"
			sc := New(data)
			err = sc.StringFieldAs("state", &got, as)
		})
		if got != tt.want || (err != nil) != tt.err || (tt.allocs >= 0 && allocs != tt.allocs) {
			t.Errorf("%s: got %q, err %v, %v allocations; want %q, error %v, %v allocations", tt.in, got, err, allocs, tt.want, tt.err, tt.allocs)
		}
	}
}
