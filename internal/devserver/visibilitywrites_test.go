package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
)

// TestPreparedVisibilityWrites writes the same visibility records through
// the SQLite plugin and through preparedVisibilityPlugin, into two
// databases, and checks that both hold the same rows and full-text
// entries, and that the plugin reads them back alike: the prepared writes
// must store exactly what the plugin would (times, keyword lists, the
// version check of an upsert, deletes).
func TestPreparedVisibilityWrites(t *testing.T) {
	ctx := testContext(t, time.Minute)
	dir := t.TempDir()
	open := func(name, plugin string) (sqlplugin.DB, string) {
		file := filepath.Join(dir, name)
		if err := createDatabaseFile(ctx, file); err != nil {
			t.Fatal(err)
		}
		conf, err := sqlConfig(file)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := persistencesql.NewSQLAdminDB(sqlplugin.DbKindVisibility, conf, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
		if err != nil {
			t.Fatal(err)
		}
		_ = admin.Close()
		conf.PluginName = plugin
		db, err := persistencesql.NewSQLDB(sqlplugin.DbKindVisibility, conf, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db, file
	}
	plain, plainFile := open("plain.db", "sqlite")
	prepared, preparedFile := open("prepared.db", preparedVisibilityPlugin)
	if _, ok := prepared.(*visibilityDB); !ok {
		t.Fatalf("the prepared plugin gave a %T", prepared)
	}

	namespaceID := primitives.NewUUID().String()
	zone := time.FixedZone("UTC+5", 5*3600)
	start := time.Date(2026, 11, 28, 10, 11, 12, 123456789, zone)
	row := func(runID string, version int64, closed bool) *sqlplugin.VisibilityRow {
		attrs := sqlplugin.VisibilitySearchAttributes{
			"Keyword01":     "client-1",
			"KeywordList01": []string{"hook-a", "hook b", "hook♡c"},
			"Datetime01":    start.Add(time.Hour),
			"Int01":         int64(42),
			"Bool01":        true,
			"Double01":      1.5,
			"Text01":        "some words to search",
		}
		r := &sqlplugin.VisibilityRow{
			NamespaceID:      namespaceID,
			RunID:            runID,
			WorkflowTypeName: "DeliverEvent",
			WorkflowID:       "wf-" + runID,
			StartTime:        start,
			// ExecutionTime zero: stored as the plugin's minimum time.
			Status:           1,
			Memo:             []byte{1, 2, 3},
			Encoding:         "proto3",
			TaskQueue:        "deliveries",
			SearchAttributes: &attrs,
			Version:          version,
		}
		if closed {
			closeTime := start.Add(1500 * time.Millisecond)
			historyLength := int64(8)
			r.CloseTime, r.HistoryLength, r.Status = &closeTime, &historyLength, 2
		}
		return r
	}
	for _, db := range []sqlplugin.DB{plain, prepared} {
		steps := []func() (sql.Result, error){
			func() (sql.Result, error) { return db.InsertIntoVisibility(ctx, row("run-1", 1, false)) },
			func() (sql.Result, error) { return db.InsertIntoVisibility(ctx, row("run-1", 5, true)) }, // exists: no change
			func() (sql.Result, error) { return db.ReplaceIntoVisibility(ctx, row("run-1", 2, true)) },
			func() (sql.Result, error) { return db.ReplaceIntoVisibility(ctx, row("run-1", 1, false)) }, // older: no change
			func() (sql.Result, error) { return db.ReplaceIntoVisibility(ctx, row("run-2", 1, true)) },
			func() (sql.Result, error) { return db.InsertIntoVisibility(ctx, row("run-3", 1, false)) },
			func() (sql.Result, error) {
				return db.DeleteFromVisibility(ctx, sqlplugin.VisibilityDeleteFilter{NamespaceID: namespaceID, RunID: "run-3"})
			},
		}
		for i, step := range steps {
			if _, err := step(); err != nil {
				t.Fatalf("%T, step %d: %v", db, i, err)
			}
		}
	}

	for _, query := range []string{
		`SELECT * FROM executions_visibility ORDER BY run_id`,
		`SELECT rowid, * FROM executions_visibility_fts_keyword_list ORDER BY rowid`,
		`SELECT rowid, * FROM executions_visibility_fts_text ORDER BY rowid`,
		`SELECT rowid FROM executions_visibility_fts_keyword_list WHERE executions_visibility_fts_keyword_list MATCH 'KeywordList01 : "hook b"'`,
	} {
		want := dumpRows(t, ctx, plainFile, query)
		got := dumpRows(t, ctx, preparedFile, query)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nprepared %v\nplugin   %v", query, got, want)
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows", query)
		}
	}
	for _, runID := range []string{"run-1", "run-2"} {
		filter := sqlplugin.VisibilityGetFilter{NamespaceID: namespaceID, RunID: runID}
		want, err := plain.GetFromVisibility(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		got, err := prepared.GetFromVisibility(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back:\nprepared %+v\nplugin   %+v", runID, got, want)
		}
		if want.Version != 2 && runID == "run-1" {
			t.Errorf("run-1 has version %d, want 2 (the upsert of version 2, not the older one)", want.Version)
		}
	}
}

// dumpRows reads every row of query from file, each value as text.
func dumpRows(t *testing.T, ctx context.Context, file, query string) [][]string {
	t.Helper()
	db, err := sql.Open(sqliteDriver, "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		values := make([]any, len(columns))
		for i := range values {
			values[i] = new(any)
		}
		if err := rows.Scan(values...); err != nil {
			t.Fatal(err)
		}
		line := make([]string, len(columns))
		for i, v := range values {
			line[i] = columns[i] + "=" + fmt.Sprintf("%v", *(v.(*any)))
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
