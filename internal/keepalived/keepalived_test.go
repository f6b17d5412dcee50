package keepalived

import "testing"

func TestHasNopreempt(t *testing.T) {
	for conf, want := range map[string]bool{
		"vrrp_instance VI_1 {\n  nopreempt\n}\n":           true,
		"vrrp_instance VI_1 {\n  # nopreempt\n}\n":         false,
		"vrrp_instance VI_1 {\n  state BACKUP\n}\n":        false,
		"vrrp_instance VI_1 {\n  nopreempt # both nodes\n": true,
	} {
		if got := HasNopreempt(conf); got != want {
			t.Errorf("%q: %v", conf, got)
		}
	}
}
