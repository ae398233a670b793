// Package warm keeps module requirements that no package imports yet.
// Removed once every dependency has a real importer.
package warm

import (
	_ "github.com/temporalio/ui-server/v2/server"
	_ "go.temporal.io/server/temporal"
	_ "go.temporal.io/server/temporaltest"
	_ "gopkg.in/yaml.v3"
)
