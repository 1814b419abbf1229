package store

import (
	"context"
	"testing"
)

// An import adds, updates by key and leaves alone; replace removes what
// the import lacks; ids are never given twice.
func TestImportInventory(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		row := func(id, product, version string) InventoryRow {
			return InventoryRow{AssetID: id, Name: id, Vendor: "acme", Product: product, Version: version, RowKey: id + "\x1facme\x1f" + product}
		}
		got, err := s.ImportInventory(ctx, []InventoryRow{row("web-01", "edgegate", "1.0"), row("web-01", "dbserver", "9"),
			row("web-02", "edgegate", "1.0")}, false)
		if err != nil || got != (ImportCounts{Added: 3}) {
			t.Fatalf("first import: %+v %v", got, err)
		}
		first, _ := s.Inventory(ctx, 0, 10)
		c.Add(1000)
		got, err = s.ImportInventory(ctx, []InventoryRow{row("web-01", "edgegate", "1.2"), row("web-02", "edgegate", "1.0"),
			row("web-03", "edgegate", "2.0")}, false)
		if err != nil || got != (ImportCounts{Added: 1, Updated: 1, Unchanged: 1}) {
			t.Fatalf("merge: %+v %v", got, err)
		}
		all, _ := s.Inventory(ctx, 0, 10)
		if len(all) != 4 || all[0].ID != first[0].ID || all[0].Version != "1.2" || !all[0].Updated.After(all[0].Created) {
			t.Fatalf("after the merge: %+v", all)
		}
		got, err = s.ImportInventory(ctx, []InventoryRow{row("web-03", "edgegate", "2.0")}, true)
		if err != nil || got != (ImportCounts{Unchanged: 1, Removed: 3}) {
			t.Fatalf("replace: %+v %v", got, err)
		}
		s.ImportInventory(ctx, []InventoryRow{row("web-09", "edgegate", "1")}, false)
		all, _ = s.Inventory(ctx, 0, 10)
		if len(all) != 2 || all[1].ID <= first[2].ID || all[1].ID <= all[0].ID {
			t.Errorf("an id was given again: %+v (first %+v)", all, first)
		}
		if page, _ := s.Inventory(ctx, all[0].ID, 1); len(page) != 1 || page[0].AssetID != "web-09" {
			t.Errorf("paging: %+v", page)
		}
	})
}
