"""Audio I/O: sources (microphone, file, stdin), device lookup, the native PortAudio streams whose
callbacks run no Python, and the callback duration meter."""
