"""awsemu: the AWS that Kiln's tests talk to (moto, extended). See README.md."""
