module shmring.bench/socketpeer

go 1.21
