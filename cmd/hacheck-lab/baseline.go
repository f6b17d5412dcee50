package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hacheck/hacheck/internal/lab"
)

// baselineKeepalivedConf is the common setup hacheck is compared with: a
// shell vrrp_script polled every 2 s with fall 2 / rise 2, reading a file
// that says "true" or "false", and no track file. Every other keepalived
// setting is the same as in examples/keepalived.conf (weight 0 = FAULT,
// nopreempt, advert_int 1, the lab's priorities), so the only difference
// measured is how the master learns that it must step down.
//
// HACHECK, HACHECK_CONFIG and TRACK_FILE are defined only because the lab
// sets them on every node; the baseline does not use them.
const baselineKeepalivedConf = `# Baseline for benchmarks: a polled shell health script, no track file.
$IFACE=eth0
$PRIORITY=254
$VIP=192.0.2.100/24
$VRID=51
$HACHECK=/usr/local/bin/hacheck
$HACHECK_CONFIG=/etc/hacheck/hacheck.yaml
$TRACK_FILE=/var/lib/hacheck/keepalived.track
$FLAG_SCRIPT=/usr/local/lib/health.sh

global_defs {
    enable_script_security
    script_user root
}

vrrp_script health {
    script "${FLAG_SCRIPT}"
    interval 2
    timeout 3
    fall 2
    rise 2
    weight 0
}

vrrp_instance VI_HACHECK {
    state BACKUP
    nopreempt
    interface ${IFACE}
    virtual_router_id ${VRID}
    priority ${PRIORITY}
    advert_int 1
    virtual_ipaddress {
        ${VIP} dev ${IFACE}
    }
    track_script {
        health
    }
}
`

// baselineScript is the polled health script: healthy while flag says true.
func baselineScript(flag string) string {
	return fmt.Sprintf("#!/bin/sh\n# healthy while %s says true\n[ \"$(cat %s 2>/dev/null)\" = true ]\n", flag, flag)
}

// baselineFiles returns where the baseline's script and flag file live on n.
func baselineFiles(n *lab.Node) (script, flag string) {
	return filepath.Join(n.Dir, "bin", "health.sh"), filepath.Join(n.Dir, "health.flag")
}

// writeBaselineTemplate writes the baseline template (with advert changes
// applied by variant) to a file in dir and returns its path.
func writeTemplate(dir, name, src string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		return "", fmt.Errorf("write keepalived template: %w", err)
	}
	return p, nil
}

// installBaseline writes the health script and a "true" flag on both
// keepalived nodes of l.
func installBaseline(l *lab.Lab) error {
	for _, n := range l.Pair() {
		script, flag := baselineFiles(n)
		if err := os.WriteFile(script, []byte(baselineScript(flag)), 0o755); err != nil {
			return fmt.Errorf("install baseline script on %s: %w", n.Name, err)
		}
		if err := lab.CheckScriptSecurity(script); err != nil {
			return err
		}
		if err := setFlag(n, true); err != nil {
			return err
		}
	}
	return nil
}

// setFlag writes "true" or "false" into n's baseline flag file (temp file
// and rename, so the script never reads half a write).
func setFlag(n *lab.Node, healthy bool) error {
	_, flag := baselineFiles(n)
	v := "false\n"
	if healthy {
		v = "true\n"
	}
	tmp := flag + ".tmp"
	if err := os.WriteFile(tmp, []byte(v), 0o644); err != nil {
		return fmt.Errorf("set health flag on %s: %w", n.Name, err)
	}
	if err := os.Rename(tmp, flag); err != nil {
		return fmt.Errorf("set health flag on %s: %w", n.Name, err)
	}
	return nil
}

// baselineParams are the per-node parameters of the baseline template.
func baselineParams(n *lab.Node) map[string]string {
	script, _ := baselineFiles(n)
	return map[string]string{"FLAG_SCRIPT": script}
}

// fastAdvert turns a template with "advert_int 1" in its vrrp_instance
// into VRRPv3 with advert_int 0.1 (sub-second adverts need version 3).
func fastAdvert(src string) (string, error) {
	const line = "    advert_int 1\n"
	if strings.Count(src, line) != 1 {
		return "", fmt.Errorf("make a VRRPv3 template: want exactly one %q line", strings.TrimSpace(line))
	}
	return strings.Replace(src, line, "    version 3\n    advert_int 0.1\n", 1), nil
}
