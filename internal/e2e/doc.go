// Package e2e holds end-to-end tests that run the real hacheck binary under
// real keepalived on the two-node network-namespace lab (package lab). They
// need root, ip and keepalived: with CI set a missing prerequisite fails
// the test, otherwise it is skipped.
package e2e
