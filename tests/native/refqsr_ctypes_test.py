"""The C library from Python through ctypes, the way docs/c-api.md shows it
(scripts/check-native-lib.sh runs it):

  python3 refqsr_ctypes_test.py LIBREFQSR MODEL IN.rgb WIDTH HEIGHT EXPECTED.rgb

Upscales the raw RGB file and compares with EXPECTED.rgb (what the C program wrote), then
checks that an error comes back as a status and a message."""
import ctypes
import sys

lib_path, model_path, in_path, expected_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[6]
w, h = int(sys.argv[4]), int(sys.argv[5])

lib = ctypes.CDLL(lib_path)
lib.refqsr_last_error.restype = ctypes.c_char_p
lib.refqsr_model_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.refqsr_model_free.argtypes = [ctypes.c_void_p]
lib.refqsr_model_scale.argtypes = [ctypes.c_void_p]
lib.refqsr_upscale.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_size_t,
                               ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]

model = ctypes.c_void_p()
if lib.refqsr_model_load(model_path.encode(), None, ctypes.byref(model)) != 0:
    sys.exit("load: " + lib.refqsr_last_error().decode())
s = lib.refqsr_model_scale(model)
rgb = open(in_path, "rb").read()
out = ctypes.create_string_buffer(3 * s * w * s * h)
if lib.refqsr_upscale(model, rgb, w, h, 3 * w, out, 3 * s * w, None, None) != 0:
    sys.exit("upscale: " + lib.refqsr_last_error().decode())
if out.raw != open(expected_path, "rb").read():
    sys.exit("FAIL: ctypes output differs from the C program's")
status = lib.refqsr_upscale(model, rgb, w, h, 3 * w - 1, out, 3 * s * w, None, None)
if status != 1 or b"input_stride" not in lib.refqsr_last_error():
    sys.exit(f"FAIL: a short stride gave status {status}, message {lib.refqsr_last_error()!r}")
lib.refqsr_model_free(model)
print("ok   ctypes: the same bytes as the C program, and errors as statuses")
