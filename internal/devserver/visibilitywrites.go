package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/iancoleman/strcase"
	"github.com/jmoiron/sqlx"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
)

// preparedVisibilityPlugin is the name of the SQL plugin the server's
// visibility store uses when it has a database file of its own: the SQLite
// plugin, with the visibility records written through statements prepared
// once. The plugin prepares every statement anew at each call, and the
// visibility upsert is a large one (every column twice, for its ON
// CONFLICT update, the indexes and the two full-text triggers it must
// maintain): preparing it took a tenth of the server's CPU, once per
// workflow, more than running it (docs/performance.md). Reads still go
// through the plugin.
const preparedVisibilityPlugin = "sqlite-prepared-visibility"

func init() {
	persistencesql.RegisterPlugin(preparedVisibilityPlugin, visibilityPlugin{})
}

// visibilityPlugin is the plugin registered as preparedVisibilityPlugin.
type visibilityPlugin struct{}

func (visibilityPlugin) GetVisibilityQueryConverter() sqlplugin.VisibilityQueryConverter {
	converter, err := persistencesql.GetPluginVisibilityQueryConverter(sqliteplugin.PluginName)
	if err != nil {
		panic(err) // the SQLite plugin is linked into this package
	}
	return converter
}

// CreateDB opens the database through the SQLite plugin and, for the
// visibility store, a second connection for the writes. The database is a
// file in WAL mode, where the plugin's connection reads beside the writer.
func (visibilityPlugin) CreateDB(kind sqlplugin.DbKind, cfg *config.SQL, r resolver.ServiceResolver, logger log.Logger, mh metrics.Handler) (sqlplugin.GenericDB, error) {
	plain := *cfg
	plain.PluginName = sqliteplugin.PluginName
	generic, err := persistencesql.NewSQLDB(kind, &plain, r, logger, mh)
	if err != nil {
		return nil, err
	}
	if kind != sqlplugin.DbKindVisibility {
		return generic, nil
	}
	db, ok := generic.(sqliteDB)
	if !ok {
		_ = generic.Close()
		return nil, fmt.Errorf("the SQLite plugin's database is a %T, not an admin database too", generic)
	}
	writer, err := acquireVisibilityWriter(context.Background(), sqliteDSN(cfg.ConnectAttributes, cfg.DatabaseName))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("visibility writer: %w", err)
	}
	return &visibilityDB{sqliteDB: db, writer: writer}, nil
}

// sqliteDB is what the SQLite plugin's database is: the server asks the
// same plugin for both (the admin side checks the schema version at start).
type sqliteDB interface {
	sqlplugin.DB
	sqlplugin.AdminDB
}

// visibilityDB is the plugin's database with the three visibility writes
// taken over by the writer.
type visibilityDB struct {
	sqliteDB
	writer *visibilityWriter
}

func (db *visibilityDB) InsertIntoVisibility(ctx context.Context, row *sqlplugin.VisibilityRow) (sql.Result, error) {
	return db.writer.insert.ExecContext(ctx, sqliteVisibilityRow(row))
}

func (db *visibilityDB) ReplaceIntoVisibility(ctx context.Context, row *sqlplugin.VisibilityRow) (sql.Result, error) {
	return db.writer.upsert.ExecContext(ctx, sqliteVisibilityRow(row))
}

func (db *visibilityDB) DeleteFromVisibility(ctx context.Context, filter sqlplugin.VisibilityDeleteFilter) (sql.Result, error) {
	return db.writer.delete.ExecContext(ctx, filter)
}

func (db *visibilityDB) Close() error {
	return errors.Join(db.writer.release(), db.sqliteDB.Close())
}

// visibilityWriter is one connection with the visibility writes prepared
// on it. The statements are the plugin's own (the SQLite plugin's
// visibility.go), built from the same column list.
type visibilityWriter struct {
	db                     *sqlx.DB
	insert, upsert, delete *sqlx.NamedStmt
	dsn                    string
	users                  int // guarded by visibilityWriters.mu
}

// visibilityWriters holds one writer per database for the whole process:
// each of the server's services opens the visibility store, as the plugin
// shares one connection among them.
var visibilityWriters = struct {
	mu   sync.Mutex
	open map[string]*visibilityWriter // by DSN
}{open: map[string]*visibilityWriter{}}

// acquireVisibilityWriter returns the writer of dsn, opened on first use.
func acquireVisibilityWriter(ctx context.Context, dsn string) (*visibilityWriter, error) {
	visibilityWriters.mu.Lock()
	defer visibilityWriters.mu.Unlock()
	w := visibilityWriters.open[dsn]
	if w == nil {
		var err error
		if w, err = openVisibilityWriter(ctx, dsn); err != nil {
			return nil, err
		}
		visibilityWriters.open[dsn] = w
	}
	w.users++
	return w, nil
}

// release closes the writer once its last user is done with it.
func (w *visibilityWriter) release() error {
	visibilityWriters.mu.Lock()
	defer visibilityWriters.mu.Unlock()
	if w.users--; w.users > 0 {
		return nil
	}
	delete(visibilityWriters.open, w.dsn)
	return w.close()
}

func openVisibilityWriter(ctx context.Context, dsn string) (*visibilityWriter, error) {
	// The plugin's DSN, with its time format: rows must be written as
	// the plugin writes them, or its reads and searches would not match.
	db, err := sqlx.Open(sqliteDriver, dsn+"&_time_format=sqlite")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer; the statements stay prepared on it
	db.SetMaxIdleConns(1)
	db.MapperFunc(strcase.ToSnake) // the plugin's mapping of the row's fields
	w := &visibilityWriter{db: db, dsn: dsn}
	fields := sqlplugin.DbFields
	values := sqlplugin.BuildNamedPlaceholder(fields...)
	updates := make([]string, len(fields))
	for i, field := range fields {
		updates[i] = field + " = excluded." + field
	}
	for _, s := range []struct {
		stmt **sqlx.NamedStmt
		sql  string
	}{
		{&w.insert, `INSERT INTO executions_visibility (` + strings.Join(fields, ", ") + `) VALUES (` + values + `)
		ON CONFLICT (namespace_id, run_id) DO NOTHING`},
		// The WHERE keeps a record from being replaced by an older one.
		{&w.upsert, `INSERT INTO executions_visibility (` + strings.Join(fields, ", ") + `) VALUES (` + values + `)
		ON CONFLICT (namespace_id, run_id) DO UPDATE SET ` + strings.Join(updates, ", ") + `
		WHERE executions_visibility.` + sqlplugin.VersionColumnName + ` < EXCLUDED.` + sqlplugin.VersionColumnName},
		{&w.delete, `DELETE FROM executions_visibility WHERE namespace_id = :namespace_id AND run_id = :run_id`},
	} {
		if *s.stmt, err = db.PrepareNamedContext(ctx, s.sql); err != nil {
			_ = w.close()
			return nil, err
		}
	}
	return w, nil
}

func (w *visibilityWriter) close() error {
	var errs []error
	for _, stmt := range []*sqlx.NamedStmt{w.insert, w.upsert, w.delete} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(append(errs, w.db.Close())...)
}

// sqliteMinTime is what the plugin stores for a zero time.
var sqliteMinTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)

// sqliteVisibilityRow converts a row as the plugin does before it writes
// one: times in UTC to the microsecond (a zero time as sqliteMinTime), and
// in the search attributes, keyword lists joined by the plugin's separator
// and times in RFC 3339. TestPreparedVisibilityWrites checks that both
// write the same record.
func sqliteVisibilityRow(row *sqlplugin.VisibilityRow) *sqlplugin.VisibilityRow {
	out := *row
	out.StartTime = sqliteTime(out.StartTime)
	out.ExecutionTime = sqliteTime(out.ExecutionTime)
	if out.CloseTime != nil {
		closeTime := sqliteTime(*out.CloseTime)
		out.CloseTime = &closeTime
	}
	if out.SearchAttributes != nil {
		attrs := sqlplugin.VisibilitySearchAttributes{}
		for name, value := range *out.SearchAttributes {
			switch v := value.(type) {
			case []string:
				attrs[name] = strings.Join(v, "♡")
			case time.Time:
				attrs[name] = v.Format(time.RFC3339Nano)
			default:
				attrs[name] = v
			}
		}
		out.SearchAttributes = &attrs
	}
	return &out
}

func sqliteTime(t time.Time) time.Time {
	if t.IsZero() {
		return sqliteMinTime
	}
	return t.UTC().Truncate(time.Microsecond)
}
