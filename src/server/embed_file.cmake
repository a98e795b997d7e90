# cmake -DIN=file -DOUT=file.c -P embed_file.cmake: writes IN's bytes as a C array (see
# embed.cmake). A NUL is appended so the document can also be used as a C string.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE ${OUT}.tmp
     "/* Generated from docs/openapi.yaml by src/server/embed_file.cmake: do not edit. */\n"
     "#include <stddef.h>\n"
     "extern const unsigned char td__openapi_yaml[];\n"
     "extern const size_t td__openapi_yaml_len;\n"
     "const unsigned char td__openapi_yaml[] = {\n${bytes}0x00};\n"
     "const size_t td__openapi_yaml_len = ${len};\n")
file(RENAME ${OUT}.tmp ${OUT})
