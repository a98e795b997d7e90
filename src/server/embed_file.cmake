# cmake -DIN=file -DOUT=file.c -DSYMBOL=name [-DNAME=shown-name] -P embed_file.cmake: writes
# IN's bytes as the C array SYMBOL with its length SYMBOL_len (see embed.cmake). A NUL is
# appended so the document can also be used as a C string.
if(NOT DEFINED SYMBOL)
  set(SYMBOL td__openapi_yaml)
endif()
if(NOT DEFINED NAME)
  set(NAME ${IN})
endif()
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE ${OUT}.tmp
     "/* Generated from ${NAME} by src/server/embed_file.cmake: do not edit. */\n"
     "#include <stddef.h>\n"
     "extern const unsigned char ${SYMBOL}[];\n"
     "extern const size_t ${SYMBOL}_len;\n"
     "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00};\n"
     "const size_t ${SYMBOL}_len = ${len};\n")
file(RENAME ${OUT}.tmp ${OUT})
