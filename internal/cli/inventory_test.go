package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/store"
)

// flint cmdb import stores a CMDB export as the inventory: merged by asset
// and product, or replaced; a bad row stores nothing and is named; cmdb
// assets lists what is stored; each import is audited.
func TestInventoryCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cmdb.csv")
	write := func(body string) { os.WriteFile(file, []byte(body), 0o600) }
	write("asset_id,asset,vendor,product,version,cpe\n" +
		"srv-1,web-01,Examplesoft,EdgeGate,4.2.1,\n" +
		"srv-1,web-01,,,,cpe:2.3:a:acme:dbserver:9.1:*:*:*:*:*:*:*\n" +
		",web-02,Examplesoft,EdgeGate,4.0,\n")
	if out := mustCLI(t, dir, "", "cmdb", "import", file); !strings.Contains(out, "3 added") {
		t.Fatalf("first import: %s", out)
	}
	var rows []store.InventoryRow
	if err := json.Unmarshal([]byte(mustCLI(t, dir, "", "--json", "cmdb", "assets")), &rows); err != nil || len(rows) != 3 ||
		rows[2].AssetID != "web-02" || rows[1].CPE == "" {
		t.Fatalf("assets: %+v %v", rows, err)
	}
	// The version moves: the row is updated, not added.
	write("asset_id,vendor,product,version\nsrv-1,Examplesoft,EdgeGate,4.3\n")
	if out := mustCLI(t, dir, "", "cmdb", "import", file); !strings.Contains(out, "0 added, 1 updated, 0 unchanged, 0 removed") {
		t.Errorf("merge: %s", out)
	}
	// A bad row: nothing stored, every bad row named.
	write("asset_id,product,version\nsrv-9,EdgeGate,1\n,EdgeGate,2\nsrv-9,edgegate,3\n")
	if _, errs, code := cli(t, dir, "", "cmdb", "import", file, "--replace"); code == 0 || !strings.Contains(errs, "row 2") ||
		!strings.Contains(errs, "row 3") || strings.Contains(errs, "row 1:") {
		t.Errorf("bad rows: %d %s", code, errs)
	}
	if out := mustCLI(t, dir, "", "cmdb", "assets"); strings.Contains(out, "srv-9") || !strings.Contains(out, "4.3") {
		t.Errorf("a refused import changed the inventory:\n%s", out)
	}
	// Replace.
	write(`{"assets": [{"asset_id": "srv-1", "vendor": "Examplesoft", "product": "EdgeGate", "version": "4.3"}]}`)
	if out := mustCLI(t, dir, "", "cmdb", "import", file, "--replace"); !strings.Contains(out, "1 unchanged, 2 removed") {
		t.Errorf("replace: %s", out)
	}
	if out := mustCLI(t, dir, "", "--json", "cmdb", "assets"); strings.Count(out, `"asset_id"`) != 1 {
		t.Errorf("after replace: %s", out)
	}
	a, err := Open(context.Background(), dir, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	recs, _, _ := a.Service.AuditTrail(context.Background(), auth.Operator("test"), 0, 50)
	imports := 0
	for _, r := range recs {
		if r.Action == "inventory.import" {
			imports++
		}
	}
	if imports != 3 {
		t.Errorf("%d imports audited, 3 made", imports)
	}
}
