package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
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
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, nullableFullIndexesQuery)
	if err != nil {
		return err
	}
	type index struct{ name, sql, column string }
	var rewrite []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.sql, &ix.column); err != nil {
			rows.Close()
			return err
		}
		rewrite = append(rewrite, ix)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	for _, ix := range rewrite {
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

// nullableFullIndexesQuery lists the visibility indexes that are not
// partial yet and whose column after namespace_id (an expression has no
// name, and no match) may be NULL: name, definition and that column.
const nullableFullIndexesQuery = `
SELECT m.name, m.sql, i.name
FROM sqlite_master AS m
JOIN pragma_index_info(m.name) AS i ON i.seqno = 1
JOIN pragma_table_xinfo('executions_visibility') AS c ON c.name = i.name
WHERE m.type = 'index' AND m.tbl_name = 'executions_visibility' AND m.sql IS NOT NULL
  AND upper(m.sql) NOT LIKE '% WHERE %' AND c."notnull" = 0 AND c.pk = 0`

// closeRows closes rows and returns the error that ended its iteration.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
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
