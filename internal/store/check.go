package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flintcti/flint/internal/intel"
)

// EDAMAGED is the code of a database whose file is damaged.
const EDAMAGED = "damaged"

// Damaged reports whether err says the database file is damaged (SQLite's
// SQLITE_CORRUPT or SQLITE_NOTADB, PostgreSQL's data_corrupted or
// index_corrupted).
func Damaged(err error) bool {
	if err == nil {
		return false
	}
	if intel.ErrorCode(err) == EDAMAGED {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, sign := range []string{"malformed", "file is not a database", "sqlite_corrupt", "sqlite_notadb", "(11)", "(26)",
		"xx001", "xx002", "data_corrupted", "index_corrupted"} {
		if strings.Contains(msg, sign) {
			return true
		}
	}
	return false
}

// damaged turns an error that says the file is damaged into one that says
// what to do.
func (s *Store) damaged(err error) error {
	if !Damaged(err) {
		return err
	}
	return &intel.Error{Code: EDAMAGED, Message: fmt.Sprintf("the %s database is damaged (%v): run `flint check` for a full report, "+
		"and restore it from a backup", s.dialect, err)}
}

// coreTables are read by QuickCheck.
var coreTables = []string{"objects", "provenance", "relationships", "collections", "instances", "channels", "channel_state", "polls", "api_keys"}

// QuickCheck reads the schema and the first row of each core table: fast
// whatever the size, it finds a damaged header, schema or table root, which
// is what a torn copy or a bad disk most often leaves. Check reads it all.
func (s *Store) QuickCheck(ctx context.Context) error {
	for _, t := range coreTables {
		rows, err := s.rdb.QueryContext(ctx, `SELECT * FROM `+t+` LIMIT 1`)
		if err == nil {
			for rows.Next() {
			}
			err = errors.Join(rows.Err(), rows.Close())
		}
		if err != nil {
			return s.damaged(fmt.Errorf("store: read table %s: %w", t, err))
		}
	}
	return nil
}

// Check runs the database's full integrity check and returns what it found
// wrong (nothing when the database is sound). On SQLite that is PRAGMA
// integrity_check over every page; on PostgreSQL, whose own checks need
// the amcheck extension (pg_amcheck), it reads every core table through.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	if s.dialect == Postgres {
		for _, t := range coreTables {
			var n int64
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
				if Damaged(err) {
					return []string{fmt.Sprintf("table %s: %v", t, err)}, nil
				}
				return nil, fmt.Errorf("store: check table %s: %w", t, err)
			}
		}
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		if Damaged(err) {
			return []string{err.Error()}, nil
		}
		return nil, fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		if Damaged(err) {
			return append(problems, err.Error()), nil
		}
		return nil, err
	}
	return problems, nil
}

// Ready answers whether the store can serve: a query on the readers' pool,
// an error that says so when the file is damaged.
func (s *Store) Ready(ctx context.Context) error {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM channels LIMIT 1) t`).Scan(&n)
	if err != nil {
		return s.damaged(fmt.Errorf("store: not ready: %w", err))
	}
	return nil
}
