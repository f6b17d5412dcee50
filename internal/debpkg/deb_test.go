package debpkg

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

const (
	testVersion = "0.0~pkgtest1"
	unitPath    = "/lib/systemd/system/hacheck.service"
	// marker is written by this test into the installation it made, so a
	// run killed before its cleanup can be told from an operator's install.
	marker = "/var/lib/hacheck/.installed-by-package-test"
)

// installed are the paths the package puts on the machine, with the
// owner, group and mode each must have after dpkg -i.
var installed = []struct {
	path, owner, group string
	mode               os.FileMode
}{
	{"/usr/sbin/hacheck", "root", "root", 0o755}, // the lean front
	{"/usr/lib/hacheck/hacheck", "root", "root", 0o755},
	{"/usr/sbin/hacheck-check", "root", "root", 0o755},
	{"/etc/hacheck/hacheck.yaml", "root", "hacheck", 0o640},
	{"/var/lib/hacheck", "hacheck", "hacheck", 0o750 | os.ModeDir},
	{unitPath, "root", "root", 0o644},
	{"/usr/share/man/man8/hacheck.8.gz", "root", "root", 0o644},
	{"/usr/share/man/man8/hacheck-serve.8.gz", "root", "root", 0o644},
	{"/usr/share/man/man8/hacheck-drain.8.gz", "root", "root", 0o644},
	{"/usr/share/bash-completion/completions/hacheck", "root", "root", 0o644},
	{"/usr/share/zsh/vendor-completions/_hacheck", "root", "root", 0o644},
	{"/usr/share/fish/vendor_completions.d/hacheck.fish", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/README.md", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/examples/keepalived.conf", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/examples/keepalived-unicast.conf", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/examples/hacheck.yaml", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/examples/haproxy.cfg", "root", "root", 0o644},
	{"/usr/share/doc/hacheck/examples/systemd/hacheck.service", "root", "root", 0o644},
}

// leftovers must not exist after a purge (nor before the install).
var leftovers = []string{"/etc/hacheck", "/var/lib/hacheck", "/run/hacheck", "/usr/share/doc/hacheck",
	"/usr/sbin/hacheck", "/usr/lib/hacheck", "/usr/sbin/hacheck-check", unitPath, "/etc/systemd/system/multi-user.target.wants/hacheck.service"}

func require(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"dpkg", "dpkg-deb", "dpkg-statoverride", "setpriv", "useradd", "git", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" in PATH")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("package test needs %v (CI is set, so this is a failure, not a skip)", missing)
	}
	t.Skipf("package test needs %v; skipped (set CI=1 to make this a failure)", missing)
}

// shCode runs a command that may fail: its stdout and stderr, and exit code.
func shCode(name string, args ...string) (string, int) {
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func dpkgStatus() string {
	out, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "hacheck").Output()
	return strings.TrimSpace(string(out))
}

// refuseForeignInstall fails the test when hacheck is on this machine
// already, unless it is the leftover of a killed run of this test.
func refuseForeignInstall(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(marker); err == nil {
		t.Logf("purging the installation a killed run of this test left (%s)", marker)
		sh(t, "dpkg", "--purge", "hacheck")
	}
	var found []string
	if s := dpkgStatus(); s != "" && s != "not-installed" {
		found = append(found, "dpkg package hacheck ("+s+")")
	}
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			found = append(found, p)
		}
	}
	if _, err := user.Lookup("hacheck"); err == nil {
		found = append(found, "user hacheck")
	}
	if _, err := user.LookupGroup("hacheck"); err == nil {
		found = append(found, "group hacheck")
	}
	if len(found) > 0 {
		t.Fatalf("hacheck is already installed on this machine (%s): the package test installs into /etc, /usr and /var "+
			"and purges afterwards, so it refuses to touch it. Run it on a machine without hacheck, or `dpkg --purge hacheck` "+
			"first if that installation is disposable", strings.Join(found, ", "))
	}
}

func TestDebPackage(t *testing.T) {
	require(t)
	refuseForeignInstall(t)

	repo, err := lab.RepoFile(".")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	cmd := exec.Command(filepath.Join(repo, "scripts/package.sh"))
	cmd.Env = append(os.Environ(), "DIST="+dist, "VERSION="+testVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}
	arch := strings.TrimSpace(sh(t, "dpkg", "--print-architecture"))
	deb := filepath.Join(dist, "hacheck_"+testVersion+"_"+arch+".deb")

	inspect(t, deb, arch)

	// From here on the machine has hacheck: purge it whatever happens.
	t.Cleanup(func() {
		if s := dpkgStatus(); s != "" && s != "not-installed" {
			if out, err := exec.Command("dpkg", "--purge", "hacheck").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge hacheck: %v\n%s", err, out)
			}
		}
		os.RemoveAll("/run/hacheck")
	})
	sh(t, "dpkg", "-i", deb)
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t)
	serveAsTheUnit(t)
	purge(t)
}

// inspect reads the package with dpkg-deb: metadata, conffiles, and the
// owner and mode of what it ships.
func inspect(t *testing.T, deb, arch string) {
	t.Helper()
	info := sh(t, "dpkg-deb", "-I", deb)
	for _, want := range []string{"Package: hacheck", "Version: " + testVersion, "Architecture: " + arch, "Section: admin", "postinst", "postrm", "prerm"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	if got := strings.TrimSpace(sh(t, "dpkg-deb", "-I", deb, "conffiles")); got != "/etc/hacheck/hacheck.yaml" {
		t.Errorf("conffiles = %q, want /etc/hacheck/hacheck.yaml", got)
	}
	// -rwxr-xr-x root/root  14909602 2026-12-01 20:02 ./usr/sbin/hacheck
	entries := map[string]string{}
	line := regexp.MustCompile(`^(\S+) (\S+)\s+\d+ \S+ \S+ \.(/\S*?)/?$`)
	for _, l := range strings.Split(sh(t, "dpkg-deb", "-c", deb), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			entries[m[3]] = m[1] + " " + m[2]
		}
	}
	for path, want := range map[string]string{
		"/usr/sbin/hacheck":                      "-rwxr-xr-x root/root",
		"/etc/hacheck/hacheck.yaml":              "-rw-r----- root/root", // group hacheck by the postinst
		"/var/lib/hacheck":                       "drwxr-x--- root/root", // owner hacheck by the postinst
		unitPath:                                 "-rw-r--r-- root/root",
		"/usr/share/man/man8/hacheck-serve.8.gz": "-rw-r--r-- root/root",
		"/usr/share/doc/hacheck/examples/keepalived-unicast.conf": "-rw-r--r-- root/root",
	} {
		if got := entries[path]; got != want {
			t.Errorf("dpkg-deb -c: %s is %q, want %q", path, got, want)
		}
	}
	for _, e := range installed {
		if _, ok := entries[e.path]; !ok {
			t.Errorf("dpkg-deb -c: the package lacks %s", e.path)
		}
	}
	for path := range entries {
		if strings.HasPrefix(path, "/usr/share/man/man8/hacheck-completion-") {
			t.Errorf("the package ships %s (the completion command's subpages are noise)", path)
		}
	}
}

func checkInstalled(t *testing.T) {
	t.Helper()
	for _, e := range installed {
		fi, err := os.Stat(e.path)
		if err != nil {
			t.Errorf("after dpkg -i: %v", err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		owner, _ := user.LookupId(fmt.Sprint(st.Uid))
		group, _ := user.LookupGroupId(fmt.Sprint(st.Gid))
		if owner == nil || group == nil || owner.Username != e.owner || group.Name != e.group || fi.Mode() != e.mode {
			t.Errorf("%s: %v uid %d gid %d, want %v %s:%s", e.path, fi.Mode(), st.Uid, st.Gid, e.mode, e.owner, e.group)
		}
	}
	// keepalived's enable_script_security runs hacheck check only from a
	// root-owned path that no group or other can write.
	for _, bin := range []string{"/usr/sbin/hacheck", "/usr/lib/hacheck/hacheck", "/usr/sbin/hacheck-check"} {
		if err := lab.CheckScriptSecurity(bin); err != nil {
			t.Errorf("keepalived's script security: %v", err)
		}
	}
	// hacheck-check answers as hacheck check: the example configuration
	// has live checks, so it runs the /usr/sbin/hacheck next to it.
	full, fullCode := shCode("/usr/sbin/hacheck", "check", "--config", "/etc/hacheck/hacheck.yaml")
	lean, leanCode := shCode("/usr/sbin/hacheck-check", "--config", "/etc/hacheck/hacheck.yaml")
	if lean != full || leanCode != fullCode || fullCode == 0 {
		t.Errorf("hacheck-check: exit %d %q; hacheck check: exit %d %q (want the same failure: no state file)", leanCode, lean, fullCode, full)
	}
	u, err := user.Lookup("hacheck")
	if err != nil {
		t.Fatalf("no user hacheck after install: %v", err)
	}
	if out := sh(t, "getent", "passwd", "hacheck"); !strings.HasSuffix(strings.TrimSpace(out), ":/usr/sbin/nologin") || u.HomeDir != "/var/lib/hacheck" {
		t.Errorf("user hacheck: %s", out)
	}
	// The completions: bash loads its file and knows the command; zsh's
	// and fish's are the scripts those shells look for (neither shell need
	// be installed here).
	if out := sh(t, "bash", "-c", "source /usr/share/bash-completion/completions/hacheck && complete -p hacheck"); !strings.Contains(out, "hacheck") {
		t.Errorf("bash completion: %q", out)
	}
	if b, _ := os.ReadFile("/usr/share/zsh/vendor-completions/_hacheck"); !strings.HasPrefix(string(b), "#compdef hacheck") {
		t.Errorf("zsh completion starts %.40q, want #compdef hacheck", b)
	}
	if b, _ := os.ReadFile("/usr/share/fish/vendor_completions.d/hacheck.fish"); !strings.Contains(string(b), "complete -c hacheck") {
		t.Errorf("fish completion has no `complete -c hacheck`")
	}
	if out := sh(t, "/usr/sbin/hacheck", "version"); !strings.HasPrefix(out, "hacheck "+testVersion+" (commit ") || strings.Contains(out, "commit unknown") {
		t.Errorf("hacheck version: %q, want the package's version and commit", out)
	}
}

// unitSettings reads the [Service] settings of the installed unit.
func unitSettings(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// serveAsTheUnit starts serve with the unit's ExecStart as its User= and
// Group=, with no capabilities (CapabilityBoundingSet=), no new privileges,
// its UMask= and the directories StateDirectory= and RuntimeDirectory=
// would give it; systemd itself does not run here. The state was made by
// root first, as an operator's `hacheck undrain` would, so serve must be
// able to use root-made lock files.
func serveAsTheUnit(t *testing.T) {
	t.Helper()
	u := unitSettings(t)
	if u["User"] != "hacheck" || u["Group"] != "hacheck" || u["CapabilityBoundingSet"] != "" {
		t.Fatalf("unit: User=%q Group=%q CapabilityBoundingSet=%q", u["User"], u["Group"], u["CapabilityBoundingSet"])
	}
	sh(t, "/usr/sbin/hacheck", "undrain", "--config", "/etc/hacheck/hacheck.yaml", "--reason", "package test")
	os.Remove("/var/lib/hacheck/keepalived.track") // serve must write it back, as user hacheck

	usr, _ := user.Lookup(u["User"])
	grp, _ := user.LookupGroup(u["Group"])
	var uid, gid int
	fmt.Sscan(usr.Uid, &uid)
	fmt.Sscan(grp.Gid, &gid)
	if err := os.MkdirAll("/run/hacheck", 0o750); err != nil {
		t.Fatal(err)
	}
	os.Chown("/run/hacheck", uid, gid)

	// A free loopback port instead of the config's :8530 (the environment
	// overrides the file, as under systemd with Environment=).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	exec0 := strings.Fields(u["ExecStart"])
	args := append([]string{"-c", `umask "$0" && exec "$@"`, u["UMask"],
		"setpriv", "--reuid=" + u["User"], "--regid=" + u["Group"], "--init-groups",
		"--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"}, exec0...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", args...)
	// The admin socket in RuntimeDirectory=, as the README recommends.
	const sock = "/run/hacheck/admin.sock"
	cmd.Env = append(os.Environ(), "HACHECK_LISTEN="+addr, "HACHECK_ADMIN_ENABLED=true", "HACHECK_ADMIN_SOCKET="+sock)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		logs <- b.String()
	}()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	var code int
	var body string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("serve never answered /healthz on %s:\n%s", addr, <-logs)
		}
	}
	// The example configuration's checks point at services this machine
	// need not run: healthy or not, the answer is the verdict.
	if !(code == 200 && body == "true\n" || code == 503 && body == "false\n") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`hacheck_build_info\{[^}]*version="` + regexp.QuoteMeta(testVersion) + `"`).Match(metrics) {
		t.Errorf("/metrics has no hacheck_build_info with version %s", testVersion)
	}

	// serve runs as the unit's user with no capabilities.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", uid, uid, uid, uid), "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want+"\n") {
			t.Errorf("serve's /proc status lacks %q", want)
		}
	}
	// The track file repaired by serve as user hacheck, under a state lock
	// that root created.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile("/var/lib/hacheck/keepalived.track")
		if err == nil && string(b) == "0\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("serve did not write keepalived.track back: %q %v", b, err)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// An admin drain through the socket: serve, as user hacheck, takes the
	// operation lock root created and writes state.json and the track file.
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("admin socket: %v %v", fi, err)
	}
	unixClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err = unixClient.Post("http://admin/v1/drain", "application/json", strings.NewReader(`{"reason":"package test"}`))
	if err != nil {
		t.Fatalf("admin drain through %s: %v", sock, err)
	}
	drainReply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(drainReply), `"drained"`) {
		t.Errorf("admin drain as user hacheck: %d %s", resp.StatusCode, drainReply)
	}
	if b, err := os.ReadFile("/var/lib/hacheck/keepalived.track"); err != nil || string(b) != "1\n" {
		t.Errorf("after the admin drain keepalived.track = %q %v, want 1", b, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	stopped = true
	out := <-logs
	if err != nil {
		t.Errorf("serve on SIGTERM: %v\n%s", err, out)
	}
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, "permission denied") {
		t.Errorf("serve logged errors:\n%s", out)
	}
	os.RemoveAll("/run/hacheck") // systemd removes RuntimeDirectory= on stop
}

func purge(t *testing.T) {
	t.Helper()
	os.Remove(marker)
	sh(t, "dpkg", "--purge", "hacheck")
	if s := dpkgStatus(); s != "" && s != "not-installed" {
		t.Errorf("after purge dpkg says %q", s)
	}
	for _, e := range installed {
		if _, err := os.Lstat(e.path); err == nil {
			t.Errorf("left behind after purge: %s", e.path)
		}
	}
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("left behind after purge: %s", p)
		}
	}
	if _, err := user.Lookup("hacheck"); err == nil {
		t.Error("left behind after purge: user hacheck")
	}
	if _, err := user.LookupGroup("hacheck"); err == nil {
		t.Error("left behind after purge: group hacheck")
	}
	if out, _ := exec.Command("dpkg-statoverride", "--list").Output(); strings.Contains(string(out), "hacheck") {
		t.Errorf("left behind after purge: stat overrides\n%s", out)
	}
}
