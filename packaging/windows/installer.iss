; Inno Setup script: a per-user installer around the one-folder build (dist\gemini-codegen).
; The release workflow runs:  iscc /DAppVersion=<version> /DSourceDir=dist\gemini-codegen packaging\windows\installer.iss
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\gemini-codegen"
#endif

[Setup]
AppId={{6E5C9F7B-2D43-4B8E-9C55-0F3D2A9E6C11}
AppName=Gemini CodeGen
AppVersion={#AppVersion}
AppPublisher=Gemini Live CodeGen Desktop
DefaultDirName={localappdata}\Programs\Gemini CodeGen
DefaultGroupName=Gemini CodeGen
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=gemini-codegen-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\Gemini CodeGen"; Filename: "{app}\gemini-codegen.exe"
Name: "{autodesktop}\Gemini CodeGen"; Filename: "{app}\gemini-codegen.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\gemini-codegen.exe"; Description: "Start Gemini CodeGen"; Flags: nowait postinstall skipifsilent
