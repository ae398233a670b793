package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/serialization"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/resolver"
	"go.temporal.io/server/common/searchattribute/sadefs"
)

// sqliteDriver is the database/sql driver the server's SQLite plugin
// registers (modernc.org/sqlite); importing the plugin links it in.
const sqliteDriver = "sqlite"

// tuneVisibilityIndexes fits the SQLite visibility table's indexes to what
// the searches of this server can use. The schema indexes 58 columns, most
// of them preallocated search attributes that a given workflow leaves
// NULL, and SQLite plans and maintains every index in every visibility
// write (a workflow's start and close):
//
//   - an index on a preallocated custom column (Keyword01 … Keyword10,
//     Bool01, Int01 and so on) is kept only while a namespace maps a search
//     attribute to that column; no query can name an unmapped one, and it
//     is always NULL. A column mapped since the last pass gets its index
//     back;
//   - every other index whose column after namespace_id may be NULL
//     becomes a partial index over the rows where it is not.
//
// Queries lose nothing: an index is still used for `col = x`, `col > x` and
// the like, which imply `col IS NOT NULL`; only `col IS NULL` no longer has
// an index on col and reads the namespace's rows in list order instead.
// The index names stay, so the plugin's schema setup, which stops at the
// first object that exists, sees the schema as it made it. It is
// idempotent and runs in one transaction: before the server opens the
// database, and again once Start has registered attributes the namespace
// lacked (docs/performance.md has the measured effect).
func tuneVisibilityIndexes(ctx context.Context, dsn, storeDSN string) error {
	// BEGIN IMMEDIATE: the transaction reads, then writes. Begun as a
	// reader, it could not become the writer once the running server had
	// committed since its read (SQLITE_BUSY at once, whatever busy_timeout
	// says); taking the write lock first waits for the server's
	// transaction like any other writer.
	db, err := sql.Open(sqliteDriver, dsn+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	indexes, err := visibilityIndexes(ctx, tx)
	if err != nil {
		return err
	}
	mapped, err := mappedCustomColumnsOf(ctx, tx, dsn, storeDSN)
	if err != nil {
		return err
	}
	custom := btreeCustomColumns()
	indexed := map[string]bool{}
	exec := func(what, stmt string) error {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for _, ix := range indexes {
		switch {
		case custom[ix.column] && !mapped[ix.column]:
			if err := exec("drop index "+ix.name, `DROP INDEX "`+ix.name+`"`); err != nil {
				return err
			}
			continue
		case ix.nullable && !strings.Contains(strings.ToUpper(ix.sql), " WHERE "):
			if err := exec("drop index "+ix.name, `DROP INDEX "`+ix.name+`"`); err != nil {
				return err
			}
			if err := exec("create partial index "+ix.name, ix.sql+` WHERE "`+ix.column+`" IS NOT NULL`); err != nil {
				return err
			}
		}
		indexed[ix.column] = true
	}
	// A column mapped since the last pass.
	for column := range mapped {
		if custom[column] && !indexed[column] {
			index := customColumnIndex(column)
			if err := exec("create index "+index, customColumnIndexSQL(index, column)); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// visibilityIndex is an index of the visibility table: its name and
// definition, the column it leads with after namespace_id ("" for an
// expression), and whether that column may be NULL.
type visibilityIndex struct {
	name, sql, column string
	nullable          bool
}

// visibilityIndexes lists the indexes of the visibility table.
func visibilityIndexes(ctx context.Context, tx *sql.Tx) ([]visibilityIndex, error) {
	rows, err := tx.QueryContext(ctx, `
SELECT m.name, m.sql, COALESCE(i.name, ''), COALESCE(c."notnull" = 0 AND c.pk = 0, 0)
FROM sqlite_master AS m
JOIN pragma_index_info(m.name) AS i ON i.seqno = 1
LEFT JOIN pragma_table_xinfo('executions_visibility') AS c ON c.name = i.name
WHERE m.type = 'index' AND m.tbl_name = 'executions_visibility' AND m.sql IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	var list []visibilityIndex
	for rows.Next() {
		var ix visibilityIndex
		if err := rows.Scan(&ix.name, &ix.sql, &ix.column, &ix.nullable); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, ix)
	}
	return list, closeRows(rows)
}

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
	// In name order, as the plugin applies them: the same options always
	// give the same DSN (visibilityWriters is keyed by it).
	for _, key := range slices.Sorted(maps.Keys(conf)) {
		value := conf[key]
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

// btreeCustomColumns are the preallocated custom search attribute columns
// (Keyword01 … Keyword10, Bool01, Int01 and so on) that the schema indexes
// with a B-tree; a keyword list and a text column are indexed by full-text
// tables instead. The schema indexes all 22, and SQLite plans and
// maintains every index in each visibility write, even a partial one; an
// unmapped column is always NULL, and no query can name it.
func btreeCustomColumns() map[string]bool {
	columns := map[string]bool{}
	for column, t := range sadefs.GetDBIndexSearchAttributes(nil).CustomSearchAttributes {
		switch t {
		case enumspb.INDEXED_VALUE_TYPE_BOOL, enumspb.INDEXED_VALUE_TYPE_DATETIME, enumspb.INDEXED_VALUE_TYPE_DOUBLE,
			enumspb.INDEXED_VALUE_TYPE_INT, enumspb.INDEXED_VALUE_TYPE_KEYWORD:
			columns[column] = true
		}
	}
	return columns
}

// customColumnIndex is the schema's name of the index on a preallocated
// column: Keyword01 → by_keyword_01.
func customColumnIndex(column string) string {
	i := strings.IndexAny(column, "0123456789")
	return "by_" + strings.ToLower(column[:i]) + "_" + column[i:]
}

// customColumnIndexSQL is the schema's definition of that index, as a
// partial index like the others (TestFilePersistence compares it with the
// shipped schema).
func customColumnIndexSQL(index, column string) string {
	return `CREATE INDEX ` + index + ` ON executions_visibility (namespace_id, ` + column +
		`, (COALESCE(close_time, '9999-12-31 23:59:59+00:00')) DESC, start_time DESC, run_id) WHERE "` + column + `" IS NOT NULL`
}

// mappedCustomColumnsOf reads the mapped columns from the store's
// namespaces: through tx when the store is the visibility database, else
// from the store's own file.
func mappedCustomColumnsOf(ctx context.Context, tx *sql.Tx, dsn, storeDSN string) (map[string]bool, error) {
	if storeDSN == dsn {
		return mappedCustomColumns(ctx, tx)
	}
	store, err := sql.Open(sqliteDriver, storeDSN)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return mappedCustomColumns(ctx, store)
}

// mappedCustomColumns reads, from every namespace stored in the database,
// the preallocated columns its custom search attributes are mapped to.
func mappedCustomColumns(ctx context.Context, tx interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, data, data_encoding FROM namespaces`)
	if err != nil {
		return nil, err
	}
	mapped := map[string]bool{}
	serializer := serialization.NewSerializer()
	for rows.Next() {
		var name, encoding string
		var data []byte
		if err := rows.Scan(&name, &data, &encoding); err != nil {
			rows.Close()
			return nil, err
		}
		t, err := enumspb.EncodingTypeFromString(encoding)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("namespace %s: %w", name, err)
		}
		detail, err := serializer.NamespaceDetailFromBlob(&commonpb.DataBlob{EncodingType: t, Data: data})
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("namespace %s: %w", name, err)
		}
		for column := range detail.GetConfig().GetCustomSearchAttributeAliases() {
			mapped[column] = true
		}
	}
	return mapped, closeRows(rows)
}

// visibilityInOwnDatabase puts the visibility records in a SQLite database
// of their own, beside the store's. With one database, the server's one
// connection to it took the visibility queue's writes (a close record for
// every workflow, in batches four times a second) in turn with everything
// else, and each batch held up the workflow starts behind it: events sent
// just after a batch waited about 40 ms more at 100 events/s. Two databases
// have a connection and a write lock each, so the records are written
// beside the starts, on another core (docs/performance.md). Tests turn it
// off to make a database of the earlier layout.
var visibilityInOwnDatabase = true

// visibilityConfig is the configuration of the visibility database that
// goes with the store conf describes: the same options, and the file's
// name with "-visibility" before its extension (temporal.db,
// temporal-visibility.db).
func visibilityConfig(conf *config.SQL) *config.SQL {
	vis := *conf
	vis.ConnectAttributes = maps.Clone(conf.ConnectAttributes)
	vis.DatabaseName = visibilityFile(conf.DatabaseName)
	return &vis
}

func visibilityFile(store string) string {
	ext := filepath.Ext(store)
	return strings.TrimSuffix(store, ext) + "-visibility" + ext
}

// setUpVisibilityDatabase creates the visibility database's schema if it
// has none, and moves into it the records a store of the earlier layout
// kept itself, so that the UI still lists the workflows of a database made
// before the split. The move copies, then deletes what it copied; a crash
// between the two copies again on the next start, which keeps the newer
// record of each run.
func setUpVisibilityDatabase(ctx context.Context, visibility, store *config.SQL) error {
	admin, err := persistencesql.NewSQLAdminDB(sqlplugin.DbKindVisibility, visibility, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("devserver: visibility database: %w", err)
	}
	_ = admin.Close() // the plugin keeps the connection for the server
	if store.ConnectAttributes["mode"] == "memory" {
		return nil // a new database: nothing to move
	}
	if err := moveVisibilityRecords(ctx, sqliteDSN(visibility.ConnectAttributes, visibility.DatabaseName), store.DatabaseName); err != nil {
		return fmt.Errorf("devserver: moving the visibility records to %s: %w", visibility.DatabaseName, err)
	}
	return nil
}

func moveVisibilityRecords(ctx context.Context, visibilityDSN, storeFile string) error {
	db, err := sql.Open(sqliteDriver, visibilityDSN+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection: the attached database belongs to it.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS store`, storeFile); err != nil {
		return err
	}
	var found bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM store.executions_visibility)`).Scan(&found); err != nil || !found {
		return err
	}
	// The stored columns; the generated ones (search attributes) are
	// computed again on insert.
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('executions_visibility')`)
	if err != nil {
		return err
	}
	var columns []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		columns = append(columns, `"`+name+`"`)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	list := strings.Join(columns, ", ")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO main.executions_visibility (`+list+`) SELECT `+list+` FROM store.executions_visibility`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM store.executions_visibility`); err != nil {
		return err
	}
	return tx.Commit()
}
