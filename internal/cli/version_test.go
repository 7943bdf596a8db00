package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionString(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T09:00:00Z"}}
	for _, tc := range []struct {
		name    string
		ldflags string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs}, true, "v1.4.0 (revision 0123456789ab, 2026-12-01T09:00:00Z)"},
		{"checkout, modified", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(vcs, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, true, "(devel) (revision 0123456789ab, 2026-12-01T09:00:00Z, modified)"},
		{"-buildvcs=false", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "(devel) (no VCS revision recorded)"},
		{"ldflags wins", "v9.9.9", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs}, true, "v9.9.9 (revision 0123456789ab, 2026-12-01T09:00:00Z)"},
		{"no build info", "", nil, false, "(devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := Version
			Version = tc.ldflags
			defer func() { Version = old }()
			if got := VersionString(tc.info, tc.ok); got != tc.want {
				t.Errorf("VersionString = %q, want %q", got, tc.want)
			}
		})
	}
}
