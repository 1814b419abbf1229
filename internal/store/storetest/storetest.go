// Package storetest gives tests a fresh database of each dialect: a SQLite
// file in the test's temporary directory, and an empty database on the
// PostgreSQL server named by TEST_POSTGRES_DSN (`make test` starts one).
package storetest

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Dialects lists the dialects every store-backed test runs on.
var Dialects = []string{"sqlite", "postgres"}

// DSN returns a fresh database of the dialect for this test.
func DSN(tb testing.TB, dialect string) string {
	tb.Helper()
	if dialect == "postgres" {
		return NewPostgresDB(tb)
	}
	return filepath.Join(tb.TempDir(), "flint.db")
}

// NewPostgresDB creates an empty database on the test server and returns
// its DSN; it is dropped when the test ends. Without TEST_POSTGRES_DSN the
// test is skipped, unless FLINT_REQUIRE_POSTGRES=1 (CI), which fails it.
func NewPostgresDB(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("FLINT_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("TEST_POSTGRES_DSN is not set but FLINT_REQUIRE_POSTGRES=1: run the tests with `make test`")
		}
		tb.Skip("TEST_POSTGRES_DSN is not set; `make test` starts a throwaway PostgreSQL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	name := "flint_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			tb.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// ForEachDialect runs f as a subtest for each dialect.
func ForEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}
