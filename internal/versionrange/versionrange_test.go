package versionrange

import (
	"fmt"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
		ok   bool
	}{
		{"7.2.0", "7.2.3", -1, true},
		{"10.0.19041.1234", "10.0.19041.99", 1, true},
		{"7.2", "7.2.0", 0, true},
		{"2023.2", "2022.3", 1, true},
		{"1.1.1k", "1.1.1", 0, false}, // go-version reads k as a pre-release: not trusted
		{"8u381", "11.0.20", 0, false},
		{"", "1.0", 0, false},
		{"2019 CU12", "2019", 0, false},
	} {
		got, ok := Compare(tc.a, tc.b)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
	if !Equal("7.2", "7.2.0") || !Equal("8u381", "8U381") || Equal("7.2", "7.3") {
		t.Error("Equal")
	}
}

// The memo of parsed versions stays bounded whatever it is given, and a
// memoised answer is the same as a fresh one.
func TestMemoBounded(t *testing.T) {
	for i := range memoSize + 10 {
		parse(fmt.Sprintf("%d.%d", i/1000, i%1000))
	}
	memo.Lock()
	n := len(memo.m)
	memo.Unlock()
	if n > memoSize {
		t.Errorf("the memo holds %d versions; the bound is %d", n, memoSize)
	}
	for range 2 {
		if c, ok := Compare("1.1.1k", "1.1.1"); ok || c != 0 {
			t.Error("a pre-release became comparable")
		}
		if c, ok := Compare("7.10", "7.9"); !ok || c != 1 {
			t.Error("7.10 > 7.9")
		}
	}
}
