package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
)

// sqliteDriver is the database/sql driver the server's SQLite plugin
// registers (modernc.org/sqlite); importing the plugin links it in.
const sqliteDriver = "sqlite"

// partialVisibilityIndexes makes every index of the SQLite visibility table
// whose first column after namespace_id may be NULL a partial index over
// the rows where it is not. The schema indexes 58 columns, most of them
// preallocated search attributes that a given workflow leaves NULL, and
// every visibility write (a workflow's start and close) updated all 58;
// now it updates the dozen that hold a value. Queries lose nothing: an
// index is still used for `col = x`, `col > x` and the like, which imply
// `col IS NOT NULL`; only `col IS NULL` no longer has an index on col
// and reads the namespace's rows in list order instead. The index names
// stay, so the plugin's schema setup, which
// stops at the first object that exists, sees the schema as it made it.
// It is idempotent, and runs in one transaction before the server opens
// the database (docs/performance.md has the measured effect).
func partialVisibilityIndexes(ctx context.Context, dsn string) error {
	db, err := sql.Open(sqliteDriver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	nullable, err := nullableColumns(ctx, db, "executions_visibility")
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx,
		`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	type index struct{ name, sql, column string }
	var rewrite []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.sql); err != nil {
			rows.Close()
			return err
		}
		if strings.Contains(strings.ToUpper(ix.sql), " WHERE ") {
			continue // already partial
		}
		rewrite = append(rewrite, ix)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	kept := rewrite[:0]
	for _, ix := range rewrite {
		column, err := secondColumn(ctx, db, ix.name)
		if err != nil {
			return err
		}
		if nullable[column] {
			ix.column = column
			kept = append(kept, ix)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, ix := range kept {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+ix.name+`"`); err != nil {
			return fmt.Errorf("drop index %s: %w", ix.name, err)
		}
		partial := ix.sql + ` WHERE "` + ix.column + `" IS NOT NULL`
		if _, err := tx.ExecContext(ctx, partial); err != nil {
			return fmt.Errorf("create partial index %s: %w", ix.name, err)
		}
	}
	return tx.Commit()
}

// closeRows closes rows and returns the error that ended its iteration.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// nullableColumns lists the columns of table that may hold NULL,
// generated columns included.
func nullableColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, "notnull", pk FROM pragma_table_xinfo(?)`, table)
	if err != nil {
		return nil, err
	}
	nullable := map[string]bool{}
	for rows.Next() {
		var name string
		var notNull, pk int
		if err := rows.Scan(&name, &notNull, &pk); err != nil {
			rows.Close()
			return nil, err
		}
		nullable[name] = notNull == 0 && pk == 0
	}
	return nullable, closeRows(rows)
}

// secondColumn is the column an index sorts by after namespace_id; ""
// when that position is an expression or the index has no such column.
func secondColumn(ctx context.Context, db *sql.DB, index string) (string, error) {
	var name sql.NullString
	err := db.QueryRowContext(ctx, `SELECT name FROM pragma_index_info(?) WHERE seqno = 1`, index).Scan(&name)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return name.String, err
}

// sqliteDSN is the DSN of the store conf describes, as the plugin builds
// it for the options used here.
func sqliteDSN(conf map[string]string, database string) string {
	values := url.Values{}
	for key, value := range conf {
		switch key {
		case "mode", "cache":
			values.Set(key, value)
		case "setup":
		default:
			values.Add("_pragma", key+"="+value)
		}
	}
	return "file:" + database + "?" + values.Encode()
}
