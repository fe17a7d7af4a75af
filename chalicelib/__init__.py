"""pwportal: self-service mobile number registration and password reset by SMS code."""
