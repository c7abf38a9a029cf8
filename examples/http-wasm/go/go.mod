module keygate

go 1.24
