"""The participant's pages: his course, his reflections, his attendance, his certificate."""
