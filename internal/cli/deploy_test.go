package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// parses says whether flint's command line takes args (without running
// the command).
func parses(t *testing.T, args []string) {
	t.Helper()
	var r root
	p, err := newParser(&r, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Errorf("flint %s: %v", strings.Join(args, " "), err)
	}
}

// unit reads a systemd unit's [Service] settings (a key may repeat).
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			out[k] = append(out[k], v)
		}
	}
	return out
}

// The systemd unit runs flint as its own user with no new privileges on a
// read-only system, with a command line flint takes; systemd's own
// checks pass and rate its exposure low.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "flint.service")
	u := unit(t, path)
	want := map[string]string{"User": "flint", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "", "StateDirectory": "flint", "StateDirectoryMode": "0700", "UMask": "0077",
		"KillSignal": "SIGTERM", "ExecReload": "/bin/kill -HUP $MAINPID"}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %q", k, got, v)
		}
	}
	exec1 := strings.Fields(u["ExecStart"][0])
	if exec1[0] != "/usr/local/bin/flint" || exec1[1] != "serve" {
		t.Fatalf("ExecStart %v", exec1)
	}
	parses(t, exec1[1:])
	if env := u["Environment"]; len(env) != 1 || env[0] != "FLINT_DATA_DIR=/var/lib/flint" {
		t.Errorf("Environment %v: the data directory must be the state directory", env)
	}

	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("FLINT_REQUIRE_SYSTEMD") == "1" {
			t.Fatal("systemd-analyze is not installed but FLINT_REQUIRE_SYSTEMD=1")
		}
		t.Skip("systemd-analyze is not installed: the unit's own checks are skipped")
	}
	// systemd checks that ExecStart exists: point it at a file that does.
	self, _ := os.Executable()
	body, _ := os.ReadFile(path)
	tmp := filepath.Join(t.TempDir(), "flint.service")
	os.WriteFile(tmp, []byte(strings.ReplaceAll(string(body), "/usr/local/bin/flint", self)), 0o644)
	if out, err := exec.Command(tool, "verify", tmp).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(tool, "security", "--offline=true", "--json=short", tmp).Output()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v", err)
	}
	var checks []struct {
		Name string `json:"name"`
		Set  bool   `json:"set"`
	}
	if err := json.Unmarshal(out, &checks); err != nil {
		t.Fatalf("systemd-analyze security --json: %v", err)
	}
	set := map[string]bool{}
	for _, c := range checks {
		set[c.Name] = c.Set
	}
	for _, n := range []string{"User=/DynamicUser=", "NoNewPrivileges=", "ProtectSystem=", "PrivateTmp=", "CapabilityBoundingSet=~CAP_SYS_ADMIN",
		"RestrictSUIDSGID=", "MemoryDenyWriteExecute="} {
		if !set[n] {
			t.Errorf("systemd finds %s not set", n)
		}
	}
	// systemd's overall level weighs every check; out of its 10, the unit
	// must stay "OK" (below 2).
	text, _ := exec.Command(tool, "security", "--offline=true", tmp).Output()
	m := regexp.MustCompile(`exposure level for \S+: ([0-9.]+)`).FindSubmatch(text)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", text)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level >= 2 {
		t.Errorf("overall exposure %.1f (want below 2, OK):\n%s", level, text)
	}
	if len(checks) < 50 {
		t.Errorf("only %d security checks ran", len(checks))
	}
}

// The container build file builds a static binary and runs it as a
// non-root user, with a command line flint takes.
func TestContainerfile(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string // each stage's instructions
	for _, line := range strings.Split(strings.ReplaceAll(string(body), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages", len(stages))
	}
	final := stages[1]
	var user, cmd, entry string
	for _, in := range final {
		k, v, _ := strings.Cut(in, " ")
		switch k {
		case "USER":
			user = v
		case "CMD":
			cmd = v
		case "ENTRYPOINT":
			entry = v
		case "FROM":
			if !strings.Contains(v, ":") || strings.HasSuffix(v, ":latest") {
				t.Errorf("final base %q is not pinned to a tag", v)
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root user", user)
	}
	if !strings.Contains(strings.Join(stages[0], "\n"), "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	var ep, args []string
	if json.Unmarshal([]byte(entry), &ep) != nil || len(ep) != 1 || json.Unmarshal([]byte(cmd), &args) != nil {
		t.Fatalf("ENTRYPOINT %s CMD %s: want exec form", entry, cmd)
	}
	parses(t, args)
}
