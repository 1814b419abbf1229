// Package store is the only package with SQL. A *Store keeps Flint's
// intelligence in SQLite (modernc.org/sqlite, WAL, one file) or PostgreSQL
// (pgx), with the same SQL text wherever the dialects agree and one goose
// migrations folder per dialect.
//
// The contract:
//
//   - ApplyPage writes one page of a poll — objects, relationships,
//     collection membership, provenance and the channel's cursor — in one
//     transaction, fenced by the channel's lease token. A crash at any
//     instant leaves either the whole page with its cursor or neither, so a
//     resumed poll loses nothing and duplicates nothing. A PageTx
//     (BeginPages) takes several pages in one transaction, each moving the
//     cursor, and commits them together; the scheduler uses it on SQLite.
//   - Objects are identified by (type, normalised value); values must be
//     normalised before they reach the store (package indicator).
//   - Merging follows intel.Merge; the store only loads, merges and saves.
//   - Times are stored as Unix microseconds in UTC; "now" comes from the
//     injected clock.
package store
