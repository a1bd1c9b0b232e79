"""What the teacher (or an ensemble of teachers) outputs, stored once for the students."""
