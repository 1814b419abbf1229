package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// InventoryRow is one row of the stored inventory: a product an asset
// runs. RowKey identifies it across imports (cmdb.Asset.Key).
type InventoryRow struct {
	ID      int64     `json:"id"`
	AssetID string    `json:"asset_id"`
	Name    string    `json:"asset,omitempty"`
	Vendor  string    `json:"vendor,omitempty"`
	Product string    `json:"product,omitempty"`
	Version string    `json:"version,omitempty"`
	CPE     string    `json:"cpe,omitempty"`
	RowKey  string    `json:"-"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// ImportCounts say what an import did to the stored inventory.
type ImportCounts struct {
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"` // replace: the rows the import no longer has
}

// ImportInventory writes rows into the stored inventory in one
// transaction: each row is added, or updated when a row of its key has
// other values; with replace, the rows whose key the import lacks are
// removed. Rows must have distinct keys.
func (s *Store) ImportInventory(ctx context.Context, rows []InventoryRow, replace bool) (ImportCounts, error) {
	var c ImportCounts
	nowUS := s.now().UTC().UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return c, fmt.Errorf("store: import inventory: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	stored := map[string]InventoryRow{}
	if err := s.scanAssets(ctx, tx, `SELECT `+assetCols+` FROM assets`, nil, func(r InventoryRow) { stored[r.RowKey] = r }); err != nil {
		return c, err
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		seen[r.RowKey] = true
		old, ok := stored[r.RowKey]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `INSERT INTO assets (asset_id, name, vendor, product, version, cpe, row_key, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, r.AssetID, r.Name, r.Vendor, r.Product, r.Version, r.CPE, r.RowKey, nowUS); err != nil {
				return c, fmt.Errorf("store: import inventory: %w", err)
			}
			c.Added++
		case old.AssetID == r.AssetID && old.Name == r.Name && old.Vendor == r.Vendor && old.Product == r.Product &&
			old.Version == r.Version && old.CPE == r.CPE:
			c.Unchanged++
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE assets SET asset_id = $1, name = $2, vendor = $3, product = $4, version = $5, cpe = $6,
				updated_at = $7 WHERE id = $8`, r.AssetID, r.Name, r.Vendor, r.Product, r.Version, r.CPE, nowUS, old.ID); err != nil {
				return c, fmt.Errorf("store: import inventory: %w", err)
			}
			c.Updated++
		}
	}
	if replace {
		for key, old := range stored {
			if seen[key] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM assets WHERE id = $1`, old.ID); err != nil {
				return c, fmt.Errorf("store: import inventory: %w", err)
			}
			c.Removed++
		}
	}
	if err := tx.Commit(); err != nil {
		return c, fmt.Errorf("store: import inventory: %w", err)
	}
	return c, nil
}

// Inventory lists up to limit rows of the stored inventory after the row
// id after, by asset id then row id.
func (s *Store) Inventory(ctx context.Context, after int64, limit int) ([]InventoryRow, error) {
	var out []InventoryRow
	err := s.scanAssets(ctx, nil, `SELECT `+assetCols+` FROM assets WHERE id > $1 ORDER BY id LIMIT $2`, []any{after, limit},
		func(r InventoryRow) { out = append(out, r) })
	return out, err
}

const assetCols = `id, asset_id, name, vendor, product, version, cpe, row_key, created_at, updated_at`

func (s *Store) scanAssets(ctx context.Context, tx *sql.Tx, query string, args []any, each func(InventoryRow)) error {
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = tx.QueryContext(ctx, query, args...)
	} else {
		rows, err = s.rdb.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return fmt.Errorf("store: read inventory: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r InventoryRow
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.AssetID, &r.Name, &r.Vendor, &r.Product, &r.Version, &r.CPE, &r.RowKey, &created, &updated); err != nil {
			return fmt.Errorf("store: read inventory: %w", err)
		}
		r.Created, r.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
		each(r)
	}
	return rows.Err()
}
