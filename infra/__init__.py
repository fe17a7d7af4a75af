"""Resource definitions shared by the local stack, the tests and CloudFormation."""
