"""Case actions and court documents for facilitators and the program director."""
