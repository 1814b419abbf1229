package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// InventoryImport is what an import did.
type InventoryImport struct {
	Rows    int  `json:"rows"`
	Replace bool `json:"replace"`
	store.ImportCounts
	Exposures store.ExposureCounts `json:"exposures"` // what matching the imported inventory changed
}

// ImportInventory stores a CMDB export as the inventory that exposures are
// matched against: rows are added or updated by their key (asset and
// product, cmdb.Asset.Key); with replace, rows the export lacks are
// removed. Every row is checked first, and one bad row stores nothing.
func (s *Service) ImportInventory(ctx context.Context, p *auth.Principal, assets []cmdb.Asset, replace bool) (InventoryImport, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return InventoryImport{}, err
	}
	if err := cmdb.Validate(assets); err != nil {
		return InventoryImport{}, err
	}
	rows := make([]store.InventoryRow, 0, len(assets))
	at := map[string]int{}
	var bad []intel.FieldError
	for i, a := range assets {
		key, err := a.Key()
		if err != nil {
			bad = append(bad, intel.FieldError{Field: rowField(i), Message: err.Error()})
			continue
		}
		if j, dup := at[key]; dup {
			bad = append(bad, intel.FieldError{Field: rowField(i), Message: "the same asset and product as row " + strconv.Itoa(j+1)})
			continue
		}
		at[key] = i
		id := strings.TrimSpace(a.AssetID)
		if id == "" {
			id = strings.TrimSpace(a.Asset)
		}
		rows = append(rows, store.InventoryRow{AssetID: id, Name: a.Asset, Vendor: a.Vendor, Product: a.Product, Version: a.Version,
			CPE: a.CPE, RowKey: key})
	}
	if len(bad) > 0 {
		return InventoryImport{}, intel.Invalid(bad)
	}
	c, err := s.Store.ImportInventory(ctx, rows, replace)
	if err != nil {
		return InventoryImport{}, err
	}
	res := InventoryImport{Rows: len(rows), Replace: replace, ImportCounts: c}
	s.audit(ctx, p, "inventory.import", "inventory", res)
	// A changed inventory is matched again at once.
	if res.Exposures, err = s.RematchInventory(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// Inventory lists the stored inventory, limit rows after the row id after.
func (s *Service) Inventory(ctx context.Context, p *auth.Principal, after int64, limit int) ([]store.InventoryRow, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, intel.Errorf(intel.EINVALID, "limit %d: want 1–1000", limit)
	}
	return s.Store.Inventory(ctx, after, limit)
}

func rowField(i int) string { return "row " + strconv.Itoa(i+1) }
