// Command testsummary reads `go test -json` on stdin, prints failures and a
// summary, and exits non-zero when a test failed or when no test ran at all.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	var passed, failed, skipped int
	outputs := map[string][]string{}
	var failures []string
	buildFailed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text()) // build errors are not JSON
			if strings.Contains(sc.Text(), "FAIL") || strings.Contains(sc.Text(), "cannot") {
				buildFailed = true
			}
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			outputs[key] = append(outputs[key], e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			}
		case "skip":
			if e.Test != "" {
				skipped++
				fmt.Printf("SKIP %s %s\n", e.Package, e.Test)
			}
		case "build-fail":
			buildFailed = true
			failures = append(failures, key)
		case "fail":
			if e.Test != "" {
				failed++
			}
			failures = append(failures, key)
		}
	}
	for _, k := range failures {
		fmt.Printf("--- FAIL %s\n%s", k, strings.Join(outputs[k], ""))
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case buildFailed || failed > 0 || len(failures) > 0:
		os.Exit(1)
	case passed == 0:
		fmt.Println("no tests ran: failing")
		os.Exit(1)
	}
}
