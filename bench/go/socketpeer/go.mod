module shmring.bench/socketpeer

go 1.21

// The struct consumer (--layout) decodes records with the library's own ParseLayout.
require github.com/shmring/shmring/go-peer v0.0.0

require golang.org/x/sys v0.30.0 // indirect

replace github.com/shmring/shmring/go-peer => ../../../go-peer
