# Turns a file into a C array (the page of 'alae serve', compiled into the tool):
#   cmake -DINPUT=index.html -DOUTPUT=serve_page.c -DNAME=serve_page_html -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],){24}" "\\0\n    " bytes "${bytes}")
file(WRITE "${OUTPUT}"
     "/* Generated from ${NAME}'s source by tools/serve/embed.cmake: do not edit. */\n"
     "#include <stddef.h>\n"
     "const unsigned char ${NAME}[] = {\n    ${bytes}0x00};\n"
     "const size_t ${NAME}_len = ${size};\n")
