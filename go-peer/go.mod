module github.com/shmring/shmring/go-peer

go 1.21

require golang.org/x/sys v0.30.0
