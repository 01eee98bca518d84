"""The front end between a source and recognition: DC blocker, denoiser, Silero VAD and endpointer (run
natively on a worker thread), and the log-mel/MFCC features of the native core."""
