package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/mariadbtest"
)

// doctor on a good layout and on a broken one, against a real server's
// grants; never a password in its output.
func TestDoctor(t *testing.T) {
	srv := mariadbtest.Start(t, mariadbtest.Options{})
	srv.CreateHacheckUser(t, "hcgood", "pw-doctor-good")
	srv.CreateUserWith(t, "hcbad", "pw-doctor-bad", "SLAVE MONITOR, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN")
	run := func(dir, user, pass, script string, mode os.FileMode) (int, string) {
		t.Helper()
		state := filepath.Join(dir, "state")
		conf := filepath.Join(dir, "hacheck.yaml")
		kconf := filepath.Join(dir, "keepalived.conf")
		k := fmt.Sprintf(`track_file hacheck_drain {
    file "%s/keepalived.track"
    weight 0
}
vrrp_script hacheck_check {
    script "%s check --config %s"
    interval 1
    timeout 3
}
vrrp_instance VI_1 {
    state BACKUP
    nopreempt
    priority 254
    advert_int 1
    notify "%s notify --config %s"
}
`, state, script, conf, script, conf)
		if err := os.WriteFile(kconf, []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		y := fmt.Sprintf("node: a\nstate_dir: %s\nlisten: 127.0.0.1:0\nmysql: {dsn: '%s'}\nkeepalived: {config: %s}\n", state, srv.DSN(user, pass), kconf)
		if err := os.WriteFile(conf, []byte(y), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(conf, mode)
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"doctor", "--config", conf}, &out, &errOut)
		all := out.String() + errOut.String()
		if strings.Contains(all, pass) {
			t.Errorf("doctor printed the password: %s", all)
		}
		return code, out.String()
	}

	code, out := run(t.TempDir(), "hcgood", "pw-doctor-good", "/usr/bin/true", 0o600)
	if code != ExitOK || !strings.Contains(out, "nothing to fix") {
		t.Errorf("good layout: exit %d\n%s", code, out)
	}
	t.Logf("good layout:\n%s", out)

	bin := filepath.Join(t.TempDir(), "hacheck") // under /tmp: world-writable
	code, out = run(t.TempDir(), "hcbad", "pw-doctor-bad", bin, 0o644)
	for _, want := range []string{"fails keepalived's enable_script_security", "holds a password and is readable by everyone", "lacks PROCESS, CONNECTION ADMIN", "problem(s) found"} {
		if !strings.Contains(out, want) {
			t.Errorf("broken layout: no %q in\n%s", want, out)
		}
	}
	if code != ExitFail {
		t.Errorf("broken layout: exit %d, want 1", code)
	}
	t.Logf("broken layout:\n%s", out)
}
